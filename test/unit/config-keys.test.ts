// Known keys and sections of the bundle config, api_token_secret, the one help block,
// and `@x` arguments that are selectors rather than parameter files.
import { describe, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expandParamFiles, GLOBAL_OPTIONS, parseArgs } from '../../lib/cli/args.ts';
import { checkConfig, editDistance, loadConfig, nearest, parseConfig, secretOf } from '../../lib/core/config.ts';
import { PVE_SECTION, resolveClientOptions, type Environment } from '../../lib/cli/connect.ts';
import { GLOBAL_OPTION_TABLE, globalHelp } from '../../lib/cli/help.ts';
import { redact } from '../../lib/core/log.ts';
import { HELP as AUTOSNAP_HELP } from '../../lib/tools/autosnap/help.ts';
import { AUTOSNAP_SECTIONS, OptionSource, parseInvocation } from '../../lib/tools/autosnap/options.ts';
import { DEFAULT_MAX_PARALLEL, DEFAULT_MAX_PER_NODE } from '../../lib/domain/guest-snapshots/schedule.ts';
import { HELP as ONTAP_HELP } from '../../lib/tools/ontap-snapshot/main.ts';
import { actionHelp, mainHelp } from '../../lib/tools/pve-snapshot/help.ts';

const FILE = '/etc/autosnap/autosnap.conf';
const cfg = (text: string) => parseConfig(text, FILE);
const autosnapCheck = (text: string) => () => checkConfig(cfg(text), AUTOSNAP_SECTIONS);
const pveCheck = (text: string) => () => checkConfig(cfg(text), [PVE_SECTION]);

describe('unknown keys are refused, naming key, section, file and line', () => {
  test.each([
    ['[job daily]\nlabel = daily\nkeep_daily = 7\nkeep_montly = 6\n', "unknown key 'keep_montly' in [job daily] (/etc/autosnap/autosnap.conf:4); did you mean 'keep_monthly'?"],
    ['[job daily]\nlabel = daily\nkeep = 3\nonly_runing = yes\n', "unknown key 'only_runing' in [job daily] (/etc/autosnap/autosnap.conf:4); did you mean 'only_running'?"],
    ['[job daily]\nlabel = daily\nkeep-montly = 6\n', "unknown key 'keep-montly' in [job daily] (/etc/autosnap/autosnap.conf:3); did you mean 'keep_monthly'?"],
    ['[autosnap]\nmax_paralel = 3\n', "unknown key 'max_paralel' in [autosnap] (/etc/autosnap/autosnap.conf:2); did you mean 'max_parallel'?"],
    ['[autosnap]\nkeep = 3\n', "unknown key 'keep' in [autosnap] (/etc/autosnap/autosnap.conf:2); a retention policy belongs to a [job NAME] section"],
    ['[autosnap]\nlabel = x\n', "unknown key 'label' in [autosnap] (/etc/autosnap/autosnap.conf:2); a label belongs to a [job NAME] section"],
    ['[autosnap]\nhost = pve1\n', "unknown key 'host' in [autosnap] (/etc/autosnap/autosnap.conf:2); it belongs in [pve]"],
    ['[job a]\nlabel = a\nkeep = 1\nmax_parallel = 2\n', "unknown key 'max_parallel' in [job a] (/etc/autosnap/autosnap.conf:4); it applies to the whole run: set it in [autosnap]"],
    ['[job a]\nlabel = a\nkeep = 1\nschedule = daily\n', "unknown key 'schedule' in [job a] (/etc/autosnap/autosnap.conf:4); autosnap does not read a schedule"],
    ['[job a]\nlabel = a\nkeep = 1\nfrobnicate = 1\n', "unknown key 'frobnicate' in [job a] (/etc/autosnap/autosnap.conf:4); known keys: vmid, label, keep,"],
    ['[pve]\nhost = pve1\nfingerprnt = AA\n', "unknown key 'fingerprnt' in [pve] (/etc/autosnap/autosnap.conf:3); did you mean 'fingerprint'?"],
    ['[pve]\napi_token_secrt = x\n', "unknown key 'api_token_secrt' in [pve] (/etc/autosnap/autosnap.conf:2); did you mean 'api_token_secret'?"],
    ['max_parallel = 3\n[autosnap]\n', "key 'max_parallel' is outside any section (/etc/autosnap/autosnap.conf:1)"],
    // a key every object has by inheritance gets the list, not a function's source as a hint
    ['[autosnap]\nconstructor = 1\n', "unknown key 'constructor' in [autosnap] (/etc/autosnap/autosnap.conf:2); known keys: vmid,"],
    ['[autosnap]\n__proto__ = 1\n', "unknown key '__proto__' in [autosnap] (/etc/autosnap/autosnap.conf:2); known keys: vmid,"],
  ])('autosnap: %p', (text, message) => {
    expect(autosnapCheck(text)).toThrow(message);
  });

  test.each([
    ['[autosnapp]\nvmid = 1\n', 'unknown section [autosnapp] (/etc/autosnap/autosnap.conf:1); did you mean [autosnap]?'],
    ['[jobs daily]\nkeep = 1\n', 'unknown section [jobs daily] (/etc/autosnap/autosnap.conf:1); did you mean [job daily]?'],
    ['[pve]\n[backups]\n', 'unknown section [backups] (/etc/autosnap/autosnap.conf:2); did you mean [backup]?'],
    ['[whatever]\nx = 1\n', 'unknown section [whatever] (/etc/autosnap/autosnap.conf:1); sections are [pve], [autosnap], [job NAME], [backup], [notify], [ontap], [ontap NAME]'],
  ])('sections: %p', (text, message) => {
    expect(autosnapCheck(text)).toThrow(message);
    expect(pveCheck(text)).toThrow(message);
  });

  test.each([
    // every key autosnap reads, with either spelling
    ['[autosnap]\nvmid = @all\ntags = a\nmax-perc-storage = 95\nmax_parallel = 12\nmax_per_node = 3\nlock_wait = 60\nlock_file = /x\nwait = no\ntz = UTC\ntiers = 1h=all\ninterval = 15\nhook_timeout = 30\nscript = /x\ntimestamp_format = yyMMddHHmmss\nstate = no\nonly_running = yes\n'],
    ['[job a]\nvmid = 100\nlabel = a\nkeep = 1\nkeep_last = 1\nkeep_hourly = 1\nkeep_daily = 1\nkeep_weekly = 1\nkeep_monthly = 1\nkeep_yearly = 1\ntiers = 1h=all\npolicy = count\nstate = no\nonly_running = yes\ntags = a\nscript = /x\nhook_timeout = 3\ntimestamp_format = yyMMdd\ninterval = 15\n'],
    // sections another tool owns are that tool's business
    ['[backup]\nshutdown_dealy = 30s\n[ontap]\nhost = x\nwhatever = 1\n[ontap nas1]\nhost = y\n'],
    // the original ONTAP tool's layout: [proxmox], [DEFAULT] and one section per storage
    ['proxmox_host = pve1\n[DEFAULT]\nhost = c1\n[proxmox]\nproxmox_host = pve1\n[nas-nfs]\nhost = c1\nuser = admin\npass = pw12345\nverify = False\n'],
    ['[pve]\nhost = pve1\napi_token = a@pve!b\napi_token_secret = 1234-5678\ntimeout = 5\ntransport = api\npvesh = /usr/bin/pvesh\ninsecure = no\nca_file = /x\nfingerprint = AA\nusername = u@pam\npassword = pppp\npassword_file = /x\napi_token_file = /y\n'],
    [''],
  ])('accepted: %p', (text) => {
    expect(autosnapCheck(text)).not.toThrow();
  });

  test('a section that only looks like an ONTAP storage needs a host and nothing else', () => {
    expect(autosnapCheck('[nas1]\nhost = c1\nuser = a\nkeep = 3\n')).toThrow('unknown section [nas1]');
    expect(autosnapCheck('[nas1]\nuser = a\n')).toThrow('unknown section [nas1]');
  });

  test('pve-snapshot (the connection) checks [pve] and leaves [autosnap] keys to autosnap', () => {
    expect(pveCheck('[autosnap]\nfoo = 1\n[job x]\nbar = 2\n[pve]\nhost = a\n')).not.toThrow();
    expect(pveCheck('[pve]\nmax_parallel = 4\n')).toThrow("unknown key 'max_parallel' in [pve]");
  });

  test('the check runs when autosnap reads its options, before anything else', () => {
    const inv = parseInvocation(['plan']);
    expect(() => new OptionSource(inv.args, cfg('[job d]\nlabel = d\nkeep_daily = 7\nkeep_montly = 6\n'), ['autosnap'], inv.typed)).toThrow("unknown key 'keep_montly'");
  });

  test('the connection refuses a misspelt [pve] key before it looks at credentials', () => {
    const env: Environment = { env: {}, onNode: () => false, findPvesh: () => undefined };
    expect(() => resolveClientOptions({}, cfg('[pve]\nhost = pve1\nfingerprnt = AA\n'), env)).toThrow("unknown key 'fingerprnt' in [pve]");
  });

  test.each([
    ['keep_montly', 'keep_monthly', 1],
    ['only_runing', 'only_running', 1],
    ['max_paralel', 'max_parallel', 1],
    ['tsg', 'tags', 2],
    ['ab', 'ba', 1],
    ['fingerprnt', 'fingerprint', 1],
  ])('edit distance %p %p = %p', (a, b, d) => expect(editDistance(a, b)).toBe(d));
  test.each([
    ['keep_montly', ['keep', 'keep_monthly', 'keep_daily'], 'keep_monthly'],
    ['tz', ['tags', 'vmid'], undefined],
    ['frobnicate', ['vmid', 'label'], undefined],
    ['lable', ['label', 'tags'], 'label'],
  ] as const)('nearest %p', (w, c, r) => expect(nearest(w, c)).toBe(r as string | undefined));
});

describe('token secrets: only the part after the id is secret', () => {
  test.each([
    ['api_token', 'root@pam!snap', undefined],
    ['api_token', 'root@pam!snap=aaaa-bbbb', 'aaaa-bbbb'],
    ['api_token', 'PVEAPIToken=root@pam!snap=aaaa-bbbb', 'aaaa-bbbb'],
    ['api_token', 'root@pam!snap aaaa-bbbb', 'aaaa-bbbb'],
    ['api_token', 'not-a-token-id-ccc', 'not-a-token-id-ccc'],
    ['api_token_secret', 'dddd-eeee', 'dddd-eeee'],
    ['password', 'root@pam!x=y', 'root@pam!x=y'],
    ['api_token', '  ', undefined],
  ])('%s = %p -> %p', (k, v, secret) => expect(secretOf(k, v)).toBe(secret as string | undefined));

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-keys-'));
  test('an api_token holding only the id is no secret: the file may be readable, the id stays visible', () => {
    const f = path.join(dir, 'id-only.conf');
    fs.writeFileSync(f, '[pve]\nhost = pve1\napi_token = idonly@pve!visible\n', { mode: 0o644 });
    fs.chmodSync(f, 0o644);
    const c = loadConfig({ config: f });
    expect(redact('no secret for API token idonly@pve!visible')).toBe('no secret for API token idonly@pve!visible');
    const env: Environment = { env: {}, onNode: () => false, findPvesh: () => undefined };
    expect(() => resolveClientOptions({}, c, env)).toThrow('no secret for API token idonly@pve!visible:');
  });
  test('api_token_secret is read, registered, and makes the file a secret one', () => {
    const f = path.join(dir, 'secret.conf');
    fs.writeFileSync(f, '[pve]\nhost = pve1\napi_token = sec@pve!tok\napi_token_secret = 9f8e7d6c-secret-value\n');
    fs.chmodSync(f, 0o644);
    expect(() => loadConfig({ config: f })).toThrow(`${f}: mode 0644 is readable by others and holds a secret (api_token_secret); chmod 600 it`);
    fs.chmodSync(f, 0o600);
    const env: Environment = { env: {}, onNode: () => false, findPvesh: () => undefined };
    const o = resolveClientOptions({}, loadConfig({ config: f }), env);
    expect(o.api?.auth).toEqual({ kind: 'token', tokenId: 'sec@pve!tok', secret: '9f8e7d6c-secret-value' });
    expect(redact('x 9f8e7d6c-secret-value')).toBe('x ***');
  });
  test.each([
    // the command line's id with the config's secret
    [{ 'api-token': 'cli@pve!tok' }, '[pve]\nhost = a\napi_token_secret = 1111-cfg-secret\n', {}, { tokenId: 'cli@pve!tok', secret: '1111-cfg-secret' }],
    // the environment's secret wins over the config's
    [{}, '[pve]\nhost = a\napi_token = c@pve!tok\napi_token_secret = 2222-cfg-secret\n', { AUTOSNAP_API_TOKEN_SECRET: '3333-env-secret' }, { tokenId: 'c@pve!tok', secret: '3333-env-secret' }],
    // a full token in api_token needs no api_token_secret
    [{}, '[pve]\nhost = a\napi_token = c@pve!tok=4444-full\n', {}, { tokenId: 'c@pve!tok', secret: '4444-full' }],
  ] as const)('resolve %p', (args, text, envVars, auth) => {
    const env: Environment = { env: { ...envVars }, onNode: () => false, findPvesh: () => undefined };
    expect(resolveClientOptions({ ...args }, cfg(text), env).api?.auth).toEqual({ kind: 'token', ...auth });
  });
  test('api_token_file and api_token_secret in one place contradict', () => {
    const env: Environment = { env: {}, onNode: () => false, findPvesh: () => undefined };
    expect(() => resolveClientOptions({}, cfg('[pve]\nhost = a\napi_token = c@pve!tok\napi_token_file = /x\napi_token_secret = 5555-x\n'), env)).toThrow(
      `${FILE} [pve]: api_token_file and api_token_secret contradict each other; choose one`,
    );
  });
});

describe('one global-options table, one help block', () => {
  const block = globalHelp();
  test('the parser accepts exactly the options of the table', () => {
    const names = GLOBAL_OPTION_TABLE.map((o) => o.name).sort();
    expect([...GLOBAL_OPTIONS.string, ...GLOBAL_OPTIONS.boolean].sort()).toEqual(names);
    for (const o of GLOBAL_OPTION_TABLE) expect(block).toContain(`--${o.name}`);
  });
  test.each([
    ['autosnap', AUTOSNAP_HELP],
    ['pve-snapshot', mainHelp()],
    ['pve-snapshot create', actionHelp('create')],
    ['ontap-snapshot', ONTAP_HELP],
  ])('%s --help prints the block', (_tool, help) => {
    expect(help).toContain(block);
  });
  test('tool-specific options are not global', () => {
    for (const o of ['vmid', 'timestamp-format', 'max-perc-storage', 'max-per-node', 'lock-wait', 'lock-file']) {
      expect(GLOBAL_OPTIONS.string).not.toContain(o);
      expect(() => parseArgs([`--${o}`, '1'], {})).toThrow(`unknown option '--${o}'`);
      expect(block).not.toMatch(new RegExp(`^  --${o}\\b`, 'm'));
    }
    expect(AUTOSNAP_HELP).toContain('--lock-wait');
    expect(AUTOSNAP_HELP).toContain('--pvesh PATH');
  });
  test('the differing defaults are stated with their reason, and match the code', () => {
    expect(block).toContain(`autosnap: ${DEFAULT_MAX_PARALLEL}, since it also keeps to`);
    expect(block).toContain(`--max-per-node (${DEFAULT_MAX_PER_NODE}) per node; pve-snapshot: 4`);
  });
});

describe('@ arguments: parameter file, or the value of an option', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parm-'));
  const f = path.join(dir, 'args.parm');
  fs.writeFileSync(f, '--vmid @tag-a\n--host pve1\n');
  test.each([
    [['--vmid=@bogus', 'snap'], ['--vmid=@bogus', 'snap']],
    [['-o', '@x'], ['-o', '@x']],
    [['--host', '@h'], ['--host', '@h']],
    [[`@${f}`, 'snap'], ['--vmid', '@tag-a', '--host', 'pve1', 'snap']],
    [['--debug', `@${f}`], ['--debug', '--vmid', '@tag-a', '--host', 'pve1']],
  ])('%p', (argv, out) => {
    expect(expandParamFiles(argv)).toEqual(out);
  });
  test('the options that take a value can be named', () => {
    expect(expandParamFiles(['--vmid', '@bogus', 'snap'], ['vmid'])).toEqual(['--vmid', '@bogus', 'snap']);
    expect(() => expandParamFiles(['--vmid', '@bogus', 'snap'], ['host'])).toThrow("unknown selector or missing parameter file '@bogus'");
  });
  test.each([
    [['@bogus'], "unknown selector or missing parameter file '@bogus'"],
    [['snap', '@bogus'], "unknown selector or missing parameter file '@bogus'"],
    // a flag takes no value: what follows it stands alone
    [['--debug', '@bogus'], "unknown selector or missing parameter file '@bogus'"],
    [['@/nonexistent/x.parm'], "unknown selector or missing parameter file '@/nonexistent/x.parm'"],
  ])('standalone %p', (argv, message) => {
    expect(() => expandParamFiles(argv)).toThrow(message);
  });
  test('autosnap passes its own value options: --vmid @bogus reaches the selector', () => {
    expect(parseInvocation(['--vmid', '@bogus', 'snap']).args.vmid).toBe('@bogus');
    expect(parseInvocation(['snap', '--vmid=@bogus']).args.vmid).toBe('@bogus');
    expect(() => parseInvocation(['@bogus', 'snap'])).toThrow("unknown selector or missing parameter file '@bogus'");
  });
  test('a directory is no parameter file', () => {
    expect(() => expandParamFiles([`@${dir}`])).toThrow(`cannot read parameter file ${dir}: EISDIR`);
  });
});
