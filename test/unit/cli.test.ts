import { describe, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expandParamFiles, intOption, parseArgs } from '../../lib/cli/args.ts';
import { parseDuration } from '../../lib/core/duration.ts';
import { parseIni } from '../../lib/core/ini.ts';
import { parseFormat, render, type Column } from '../../lib/core/output.ts';
import { redact, registerSecret } from '../../lib/core/log.ts';
import { pickTool } from '../../scripts/main.ts';
import { VERSION } from '../../lib/core/version.ts';

describe('dispatch by argv0 or first argument', () => {
  test.each([
    ['/usr/local/sbin/pve-snapshot', ['list', '100'], 'pve-snapshot', ['list', '100']],
    ['/opt/autosnap/bin/autosnap', ['pve-snapshot', 'list'], 'pve-snapshot', ['list']],
    ['autosnap', ['snap', '--label', 'h'], 'autosnap', ['snap', '--label', 'h']],
    ['autosnap', ['autosnap', 'status'], 'autosnap', ['status']],
    ['bun', ['sim', '--http'], 'sim', ['--http']],
    ['./backup-hook', ['job-start'], 'backup-hook', ['job-start']],
    ['/tmp/x/pvesh', ['get', '/version'], 'pvesh', ['get', '/version']],
    ['autosnap', ['pvesh', 'get'], 'autosnap', ['pvesh', 'get']],
    ['/usr/local/sbin/cv4pve-autosnap', ['--vmid', '100', 'status'], 'cv4pve-autosnap', ['--vmid', '100', 'status']],
    // only through the link: as a first argument it is no tool
    ['autosnap', ['cv4pve-autosnap', 'status'], 'autosnap', ['cv4pve-autosnap', 'status']],
    // names an object has by inheritance are no tool: autosnap's own parser refuses them
    ['autosnap', ['__proto__'], 'autosnap', ['__proto__']],
    ['autosnap', ['constructor', 'status'], 'autosnap', ['constructor', 'status']],
    ['/tmp/x/toString', ['status'], 'autosnap', ['status']],
  ] as const)('%s %p -> %s', (argv0, args, tool, rest) => {
    expect(pickTool(argv0, [...args])).toEqual({ tool, args: [...rest] });
  });
});

describe('arguments', () => {
  test('parameter files expand one argument per line', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parm-'));
    const f = path.join(dir, 'a.parm');
    fs.writeFileSync(f, '# comment\n--host=pve1\n--vmid @all,-100\n\nsnap\n');
    expect(expandParamFiles(['--debug', `@${f}`, '--keep', '3'])).toEqual(['--debug', '--host=pve1', '--vmid', '@all,-100', 'snap', '--keep', '3']);
  });
  test('missing parameter file names it', () => {
    expect(() => expandParamFiles(['@/nonexistent/x.parm'])).toThrow("unknown selector or missing parameter file '@/nonexistent/x.parm'");
  });
  test('unknown option is named', () => {
    expect(() => parseArgs(['snap', '--lable', 'x'], { string: ['label'] })).toThrow("unknown option '--lable'");
  });
  // names every object inherits: minimist looked them up in its own maps and crashed
  test.each([
    ['--constructor', "unknown option '--constructor'"],
    ['--__proto__=x', "unknown option '--__proto__'"],
    ['--toString=1', "unknown option '--toString'"],
    ['--no-hasOwnProperty', "unknown option '--no-hasOwnProperty'"],
    ['--valueOf', "unknown option '--valueOf'"],
  ])('unknown option %p is named, not a crash', (arg, message) => {
    expect(() => parseArgs(['status', arg, '2'], { string: ['label'] })).toThrow(message);
  });
  test('selector exclusions are values, not options', () => {
    // --vmid is autosnap's own option, no longer a global one
    const vmid = { string: ['vmid'] };
    expect(parseArgs(['--vmid', '-100:200', 'snap'], vmid).vmid).toBe('-100:200');
    expect(parseArgs(['--vmid', '@all,-@pool-x'], vmid).vmid).toBe('@all,-@pool-x');
    expect(parseArgs(['--vmid', '@tag-a'], vmid).vmid).toBe('@tag-a');
    expect(parseArgs(['--vmid', '@bogus'], vmid).vmid).toBe('@bogus');
  });
  test('a repeated option is refused unless multi', () => {
    expect(() => parseArgs(['--host', 'a', '--host', 'b'])).toThrow("--host is given 2 times ('a', 'b'); give it once");
    expect(parseArgs(['--token', 'a'], { string: ['token'], multi: ['token'] }).token).toEqual(['a']);
  });
  test.each([
    ['3', 3],
    ['', 7],
  ])('intOption %p', (v, n) => expect(intOption({ _: [], keep: v }, 'keep', 7)).toBe(n));
  test.each([['x'], ['-1'], ['1.5']])('intOption rejects %p', (v) => {
    expect(() => intOption({ _: [], keep: v }, 'keep', 7)).toThrow('--keep');
  });
  test.each([
    ['30d', 2592000],
    ['12h', 43200],
    ['90m', 5400],
    ['45', 45],
    ['2w', 1209600],
  ])('duration %s', (s, n) => expect(parseDuration(s)).toBe(n));
  test('bad duration', () => expect(() => parseDuration('soon', '--older-than')).toThrow("--older-than: 'soon' is not a duration"));
});

describe('ini', () => {
  test('sections in order, comments, quotes, case', () => {
    const ini = parseIni('a = 1\n# c\n[job hourly]\nLabel = Hourly\nkeep: 24\n[proxmox]\npass = "p;#x"\n');
    expect(ini.global).toEqual({ a: '1' });
    expect(ini.sections.map((s) => s.name)).toEqual(['job hourly', 'proxmox']);
    expect(ini.sections[0].values).toEqual({ label: 'Hourly', keep: '24' });
    expect(ini.sections[1].values.pass).toBe('p;#x');
  });
  test('garbage line is named with its line number', () => {
    expect(() => parseIni('[a]\nnonsense\n', 'x.conf')).toThrow("x.conf:2: expected 'key = value'");
  });
  // a line the reader refuses is reported before the file's secrets are registered for
  // redaction: nothing of it may be repeated (the '=' forgotten, or the ':' of a value taken
  // for the separator, leaving a key with a blank that an unknown-key message would quote)
  test.each([
    ['no separator', '[pve]\napi_token_secret 11111111-2222-3333-4444-555555555555\n', '11111111'],
    ['a value with a colon', '[backup]\nwol_password aa:bb:cc:dd:ee:ff\n', 'aa'],
    ['a secret pasted alone', '[pve]\nS3cr3tPassw0rd\n', 'S3cr3t'],
  ])('a malformed line is refused without repeating it: %s', (_n, text, secretPart) => {
    let msg = '';
    try {
      parseIni(text, 'x.conf');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toStartWith("x.conf:2: expected 'key = value'");
    expect(msg).not.toContain(secretPart);
  });
});

describe('output formats', () => {
  const rows = [{ vm: 100, name: 'web|1' }, { vm: 2000, name: '<b>' }];
  const cols: Column<(typeof rows)[0]>[] = [
    { header: 'VM', get: (r) => r.vm, align: 'right' },
    { header: 'NAME', get: (r) => r.name },
  ];
  test.each([
    ['text', '  VM  NAME\n 100  web|1\n2000  <b>\n'],
    ['markdown', '| VM | NAME |\n| ---: | --- |\n| 100 | web\\|1 |\n| 2000 | &lt;b&gt; |\n'],
    ['json', '[{"vm":100,"name":"web|1"},{"vm":2000,"name":"<b>"}]\n'],
  ] as const)('%s', (fmt, out) => expect(render(fmt, rows, cols)).toBe(out));
  test('html escapes', () => expect(render('html', rows, cols)).toContain('<td>&lt;b&gt;</td>'));
  test('unknown format', () => expect(() => parseFormat('yaml')).toThrow("unknown output format 'yaml'"));
  test('jsonpretty alias', () => expect(parseFormat('json-pretty')).toBe('jsonpretty'));
});

test('registered secrets never print', () => {
  registerSecret('aaaa-bbbb');
  registerSecret('0f1e2d3c-aaaa-bbbb');
  expect(redact('token root@pam!t=0f1e2d3c-aaaa-bbbb failed')).toBe('token root@pam!t=*** failed');
});

test('version matches package.json', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(import.meta.dir, '..', '..', 'package.json'), 'utf8'));
  expect(VERSION).toBe(pkg.version);
});
