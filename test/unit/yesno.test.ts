import { describe, expect, test } from 'bun:test';
import { parseArgs } from '../../lib/cli/args.ts';
import { parseYesNo, yesNo } from '../../lib/core/yesno.ts';

describe('one yes/no parser: the words of PVE::JSONSchema::parse_boolean', () => {
  test.each([
    ['1', true], ['yes', true], ['true', true], ['on', true], ['YES', true], ['On', true], [' true ', true],
    ['0', false], ['no', false], ['false', false], ['off', false], ['NO', false], ['Off', false], ['\tfalse', false],
    ['', undefined], ['y', undefined], ['n', undefined], ['2', undefined], ['enabled', undefined], ['yes please', undefined],
  ])('%j -> %p', (text, want) => expect(yesNo(text)).toBe(want));
  test('anything else is refused, naming where it came from', () =>
    expect(() => parseYesNo('maybe', 'test.conf [backup] syslog')).toThrow("test.conf [backup] syslog: 'maybe' is not yes or no"));
});

describe('a flag given a value on the command line reads it with the same words', () => {
  const spec = { boolean: ['yes', 'dry-run'], alias: { y: 'yes' } };
  test.each([
    [['--yes'], true], [['-y'], true], [['--no-yes'], false],
    [['--yes=no'], false], [['--yes=off'], false], [['--yes=0'], false], [['--yes=false'], false], [['-y=no'], false],
    [['--yes=yes'], true], [['--yes=on'], true], [['--yes=1'], true], [['--yes=TRUE'], true],
  ])('%j -> yes %p', (argv, want) => expect(parseArgs(argv, spec, { global: false }).yes).toBe(want));
  test('a value that is not a yes/no word is refused, not read as yes', () =>
    expect(() => parseArgs(['--yes=maybe'], spec, { global: false })).toThrow("--yes: 'maybe' is not yes or no"));
  test.each([['--no-dry-run=no'], ['--no-dry-run=yes'], ['--no-yes=no']])('a negated flag given a value is refused, not ignored: %s', (arg) =>
    expect(() => parseArgs([arg], spec, { global: false })).toThrow('takes no value'));
  test('a short flag is named by its long name', () => expect(() => parseArgs(['-y=maybe'], spec, { global: false })).toThrow("--yes: 'maybe' is not yes or no"));
});
