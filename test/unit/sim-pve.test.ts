// Pure parts of the PVE simulator: schema validation, UPIDs, the DER certificate builder,
// fault specs, privileges and the pvesh stand-in's argument parsing and output formats.
import { describe, expect, test } from 'bun:test';
import crypto from 'node:crypto';
import { AuthDb, checkPerm, evalCheck, hasPriv, privMap, type Principal } from '../../lib/sim/pve/auth.ts';
import { derInteger, derLength, derOid, derTime, selfSigned } from '../../lib/sim/pve/cert.ts';
import { matchFail, parseFaults } from '../../lib/sim/pve/faults.ts';
import { formatResult, parsePveshArgs, perlJson, usageLine } from '../../lib/sim/pve/pvesh.ts';
import { apiSchema, validateParams } from '../../lib/sim/pve/schema.ts';
import { checkSeed, demoSeed } from '../../lib/sim/pve/seed.ts';
import { formatUpid, parseUpid } from '../../lib/sim/pve/upid.ts';

const info = (method: string, path: string) => {
  const m = apiSchema().match(path);
  if (!m?.info[method]) throw new Error(`no ${method} ${path}`);
  return { ...m, method: m.info[method] };
};
const snapCreate = info('POST', '/nodes/pve1/qemu/100/snapshot').method;
const resources = info('GET', '/cluster/resources').method;
const pools = info('GET', '/pools').method;
const del = info('DELETE', '/nodes/pve1/qemu/100/snapshot/x').method;
const base = { node: 'pve1', vmid: '100' };

describe('schema routing', () => {
  test.each([
    ['/nodes/pve1/qemu/100/snapshot', '/nodes/{node}/qemu/{vmid}/snapshot', { node: 'pve1', vmid: '100' }],
    ['/nodes/pve2/lxc/101/snapshot/a1/rollback', '/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback', { node: 'pve2', vmid: '101', snapname: 'a1' }],
    ['/nodes/pve1/tasks/UPID%3Apve1%3A00000001%3A00000002%3A00000003%3Aqmsnapshot%3A100%3Aroot%40pam%3A/status', '/nodes/{node}/tasks/{upid}/status',
      { node: 'pve1', upid: 'UPID:pve1:00000001:00000002:00000003:qmsnapshot:100:root@pam:' }],
    ['/cluster/resources', '/cluster/resources', {}],
  ])('%s -> %s', (path, template, params) => {
    const m = apiSchema().match(path);
    expect(m?.template).toBe(template);
    expect(m?.params).toEqual(params);
  });
  test.each(['/nope', '/nodes/pve1/qemu/100/snapshot/x/y/z'])('%s does not exist', (path) => {
    const m = apiSchema().match(path);
    expect(m === undefined || Object.keys(m.info).length === 0).toBe(true);
  });
});

describe('parameter validation (PVE::JSONSchema texts)', () => {
  test.each([
    [snapCreate, { ...base, snapname: 'ok_name-1' }, undefined],
    [snapCreate, { ...base }, { snapname: 'property is missing and it is not optional' }],
    [snapCreate, { ...base, snapname: 'a b' }, { snapname: "invalid format - invalid configuration ID 'a b'" }],
    [snapCreate, { ...base, snapname: '1abc' }, { snapname: "invalid format - invalid configuration ID '1abc'" }],
    [snapCreate, { ...base, snapname: 'a' }, { snapname: "invalid format - invalid configuration ID 'a'" }],
    [snapCreate, { ...base, snapname: 'a'.repeat(41) }, { snapname: 'value may only be 40 characters long' }],
    [snapCreate, { ...base, snapname: 'a'.repeat(40) }, undefined],
    [snapCreate, { ...base, snapname: 'x1', vmstate: 'maybe' }, { vmstate: "type check ('boolean') failed - got 'maybe'" }],
    [snapCreate, { ...base, snapname: 'x1', bogus: '1' }, { bogus: 'property is not defined in schema and the schema does not allow additional properties' }],
    [snapCreate, { node: 'pve1', vmid: 'abc', snapname: 'x1' }, { vmid: "type check ('integer') failed - got 'abc'" }],
    [snapCreate, { node: 'pve1', vmid: '99', snapname: 'x1' }, { vmid: 'value must have a minimum value of 100' }],
    [snapCreate, { node: 'pve1', vmid: '1000000000', snapname: 'x1' }, { vmid: 'value must have a maximum value of 999999999' }],
    [snapCreate, { node: 'pve_1', vmid: '100', snapname: 'x1' }, { node: 'invalid format - value does not look like a valid node name' }],
    [resources, { type: 'vmx' }, { type: "value 'vmx' does not have a value in the enumeration 'vm, storage, node, sdn'" }],
    [pools, { poolid: 'a/b/c/d' }, { poolid: "invalid format - pool name 'a/b/c/d' nested too deeply (max levels = 3)" }],
    [pools, { poolid: 'a b' }, { poolid: "invalid format - invalid pool name 'a b'" }],
    [pools, { type: 'qemu' }, { poolid: "missing property - 'type' requires this property" }],
  ] as const)('%#: %j', (method, params, errors) => {
    expect(validateParams(method, { ...params }).errors).toEqual(errors as any);
  });

  test.each([
    ['1', 1], ['0', 0], ['true', 1], ['false', 0], ['on', 1], ['off', 0], ['yes', 1], ['no', 0], [true, 1], [false, 0],
  ] as const)('boolean %p is accepted as %p', (value, want) => {
    const r = validateParams(del, { ...base, snapname: 'x1', force: value });
    expect(r.errors).toBeUndefined();
    expect(r.params.force).toBe(want);
  });

  test('integers arrive as numbers', () => {
    expect(validateParams(snapCreate, { ...base, snapname: 'x1' }).params.vmid).toBe(100);
  });
});

describe('UPID', () => {
  const u = { node: 'pve1', pid: 0x1a2b, pstart: 0x1234567, starttime: 1700000000, type: 'qmsnapshot', id: '100', user: 'root@pam!test' };
  test('format: uppercase 8-digit hex, trailing colon', () => {
    expect(formatUpid(u)).toBe('UPID:pve1:00001A2B:01234567:6553F100:qmsnapshot:100:root@pam!test:');
  });
  test('round trip', () => {
    expect(parseUpid(formatUpid(u))).toEqual(u);
  });
  test.each([
    'UPID:pve1:00001A2B:01234567:6553F100:qmsnapshot:100:root@pam', // no trailing colon
    'UPID:pve_1:00001A2B:01234567:6553F100:qmsnapshot:100:root@pam:',
    'UPID:pve1:1A2B:01234567:6553F100:qmsnapshot:100:root@pam:',
    'garbage',
  ])('rejects %s', (s) => {
    expect(parseUpid(s)).toBeUndefined();
  });
  test('empty id is allowed', () => {
    expect(parseUpid('UPID:pve1:00001A2B:01234567:6553F100:vzdump::root@pam:')?.id).toBe('');
  });
});

describe('DER builder and certificate', () => {
  test.each([
    [5, '05'], [127, '7f'], [128, '8180'], [255, '81ff'], [256, '820100'], [70000, '83011170'],
  ])('length %d -> %s', (n, hex) => {
    expect(derLength(n).toString('hex')).toBe(hex);
  });
  test.each([
    [0, '020100'], [2, '020102'], [127, '02017f'], [128, '02020080'], [256, '02020100'],
  ])('integer %d -> %s', (n, hex) => {
    expect(derInteger(n).toString('hex')).toBe(hex);
  });
  test('OIDs with multi-byte arcs', () => {
    expect(derOid('1.2.840.10045.4.3.2').toString('hex')).toBe('06082a8648ce3d040302');
    expect(derOid('2.5.29.17').toString('hex')).toBe('0603551d11');
  });
  test('UTCTime before 2050, GeneralizedTime after', () => {
    expect(derTime(new Date('2025-01-02T03:04:05Z')).toString('ascii').slice(2)).toBe('250102030405Z');
    expect(derTime(new Date('2051-01-02T03:04:05Z'))[0]).toBe(0x18);
  });
  test('the certificate parses, is self-signed, names the hosts, and the fingerprint matches', () => {
    const c = selfSigned(['localhost', '127.0.0.1', 'pve1']);
    const x = new crypto.X509Certificate(c.certPem);
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, DNS:pve1');
    expect(x.fingerprint256).toBe(c.fingerprint);
    expect(x.checkHost('localhost')).toBe('localhost');
    expect(x.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(crypto.createPrivateKey(c.keyPem).asymmetricKeyType).toBe('ec');
  });
});

describe('fault specs', () => {
  test('a full spec', () => {
    const f = parseFaults('latency=5; error=0.1:502; drop=0.05; fail=POST:/snapshot$:500:boom: really; failn=2:GET:/cluster/resources:596; taskfail=100:qmdelsnapshot:disk busy: try again; lock=101:backup:30; cfglock=102:15');
    expect(f.latencyMs).toBe(5);
    expect([f.errorRate, f.errorStatus, f.dropRate]).toEqual([0.1, 502, 0.05]);
    expect(f.fails[0]).toMatchObject({ method: 'POST', status: 500, message: 'boom: really' });
    expect(f.fails[1]).toMatchObject({ method: 'GET', status: 596, remaining: 2 });
    expect(f.taskFails).toEqual([{ vmid: 100, type: 'qmdelsnapshot', message: 'disk busy: try again' }]);
    expect(f.locks).toEqual([{ vmid: 101, lock: 'backup', seconds: 30 }]);
    expect(f.cfgLocks).toEqual([{ vmid: 102, seconds: 15 }]);
  });
  test('failn counts down', () => {
    const f = parseFaults('failn=2:GET:^/version$:503');
    expect([matchFail(f, 'GET', '/version'), matchFail(f, 'GET', '/version'), matchFail(f, 'GET', '/version')].map((r) => r?.status)).toEqual([503, 503, undefined]);
    expect(matchFail(f, 'POST', '/version')).toBeUndefined();
  });
  test.each([
    ['latency=abc', "fault latency: 'abc' is not a number of milliseconds"],
    ['error=2', "fault error: rate '2' is not a number between 0 and 1"],
    ['fail=GET:/x', "fault fail: 'GET:/x' is not METHOD:PATH_REGEX:STATUS[:MESSAGE]"],
    ['fail=GET:(:500', "fault fail: '(' is not a valid regular expression"],
    ['taskfail=99:qmsnapshot:x', "fault taskfail: '99' is not a VM ID"],
    ['bogus=1', 'unknown fault'],
    ['latency', "fault 'latency': expected NAME=VALUE"],
  ])('%s -> %s', (spec, msg) => {
    expect(() => parseFaults(spec)).toThrow(msg);
  });
});

describe('privileges', () => {
  const ctx = { poolPathsOf: (vmid: number) => (vmid === 200 ? ['/pool/prod/db'] : []) };
  const user = (grants: Record<string, string[]>, token?: Record<string, string[]>): Principal => ({
    userid: 'u@pve', all: false, privs: privMap(grants), tokenPrivs: token ? privMap(token) : undefined,
  });
  test.each([
    [{ '/vms': ['VM.Audit'] }, undefined, '/vms/100', 'VM.Audit', true],
    [{ '/vms/100': ['VM.Audit'] }, undefined, '/vms/101', 'VM.Audit', false],
    [{ '/': ['VM.Snapshot'] }, undefined, '/vms/100', 'VM.Snapshot', true],
    [{ '/vms': ['VM.Audit', 'VM.Snapshot'] }, { '/vms': ['VM.Audit'] }, '/vms/100', 'VM.Snapshot', false],
    [{ '/vms': ['VM.Audit'] }, { '/': ['VM.Audit', 'VM.Snapshot'] }, '/vms/100', 'VM.Snapshot', false],
    [{ '/pool/prod': ['VM.Audit'] }, undefined, '/vms/200', 'VM.Audit', true],
    [{ '/pool/prod': ['VM.Audit'] }, undefined, '/vms/100', 'VM.Audit', false],
  ] as const)('%j token %j: %s %s -> %p', (grants, token, path, priv, want) => {
    expect(hasPriv(user(grants as any, token as any), path, priv, ctx)).toBe(want);
  });
  test('403 texts name the path and the first missing privilege', () => {
    const p = user({ '/vms': ['VM.Audit'] });
    expect(() => checkPerm(p, '/vms/100', ['VM.Audit', 'VM.Snapshot'])).toThrow('Permission check failed (/vms/100, VM.Snapshot)');
    expect(() => checkPerm(p, '/vms/100', ['VM.Snapshot', 'VM.Snapshot.Rollback'], true)).toThrow('Permission check failed (/vms/100, VM.Snapshot|VM.Snapshot.Rollback)');
    expect(() => evalCheck(p, ['perm', '/vms/{vmid}', ['VM.Snapshot']], { vmid: '105' })).toThrow('Permission check failed (/vms/105, VM.Snapshot)');
    expect(() => evalCheck(p, ['or', ['perm', '/', ['Sys.Audit']], ['perm', '/vms/{vmid}', ['VM.Audit']]], { vmid: '1' })).not.toThrow();
  });
  test('tokens: header forms, privilege separation, wrong secret', () => {
    const db = new AuthDb([{ userid: 'snap@pve', privileges: { '/vms': ['VM.Audit', 'VM.Snapshot'] }, tokens: [{ id: 'auto', secret: 's3cret', privileges: { '/vms': ['VM.Audit'] } }] }], ['root@pam!full=abc']);
    expect(db.fromTokenHeader('PVEAPIToken=root@pam!full=abc').all).toBe(true);
    expect(db.fromTokenHeader('PVEAPIToken root@pam!full=abc').all).toBe(true);
    const t = db.fromTokenHeader('PVEAPIToken=snap@pve!auto=s3cret');
    expect(hasPriv(t, '/vms/100', 'VM.Audit')).toBe(true);
    expect(hasPriv(t, '/vms/100', 'VM.Snapshot')).toBe(false);
    expect(() => db.fromTokenHeader('PVEAPIToken=snap@pve!auto=wrong')).toThrow('authentication failure');
  });
  test('tickets: 2 h lifetime, CSRF required for writes', () => {
    const db = new AuthDb([{ userid: 'snap@pve', password: 'pw' }], []);
    const now = 1700000000;
    const t = db.login('snap', 'pw', 'pve', now);
    expect(t.ticket).toMatch(/^PVE:snap@pve:6553F100::\S+$/);
    expect(db.fromTicket(t.ticket, undefined, false, now + 7199).userid).toBe('snap@pve');
    expect(() => db.fromTicket(t.ticket, undefined, false, now + 7201)).toThrow('authentication failure');
    expect(() => db.fromTicket(t.ticket, undefined, true, now)).toThrow('Permission denied - invalid csrf token');
    expect(() => db.fromTicket(t.ticket, t.csrf.replace(/.$/, 'x'), true, now)).toThrow('Permission denied - invalid csrf token');
    expect(db.fromTicket(t.ticket, t.csrf, true, now).userid).toBe('snap@pve');
    expect(() => db.login('snap@pve', 'bad', undefined, now)).toThrow('authentication failure');
    expect(db.login('snap@pve', t.ticket, undefined, now + 60).userid).toBe('snap@pve');
  });
});

describe('seed', () => {
  test('the demo seed passes its own checks', () => {
    expect(() => checkSeed(demoSeed())).not.toThrow();
  });
  test.each([
    [{ guests: [{ vmid: 99, type: 'qemu', node: 'pve1' }] }, "guests[0]: 'vmid' must be an integer 100..999999999"],
    [{ nodes: [{ node: 'a' }], guests: [{ vmid: 100, type: 'qemu', node: 'b' }] }, "guests[0]: node 'b' is not in 'nodes'"],
    [{ guests: [{ vmid: 100, type: 'kvm', node: 'a' }] }, "guests[0]: 'type' must be qemu or lxc"],
    [{ gusts: [] }, "unknown key 'gusts'"],
    [{ guests: [{ vmid: 100, type: 'qemu', node: 'a', snapshots: [{ name: 'x', parent: 'y' }] }] }, "snapshot 'x' has unknown parent 'y'"],
    [{ backupJobs: [{ id: 'backup-a' }] }, "backupJobs[0]: needs a 'schedule'"],
    [{ backupJobs: [{ id: '1abc', schedule: '21:00' }] }, "backupJobs[0]: 'id' must be a job id"],
    [{ backupJobs: [{ id: 'backup-a', schedule: '21:00' }, { id: 'backup-a', schedule: '22:00' }] }, "backupJobs[1]: id 'backup-a' is used twice"],
    [{ nodes: [{ node: 'a' }], backupJobs: [{ id: 'backup-a', schedule: '21:00', node: 'b' }] }, "backupJobs[0]: node 'b' is not in 'nodes'"],
    [{ backupJobs: [{ id: 'backup-a', schedule: '21:00', enabled: 1 }] }, "backupJobs[0]: 'enabled' must be true or false"],
    [{ backupJobs: [{ id: 'backup-a', schedule: '21:00', starttime: '21:00' }] }, "backupJobs[0]: unknown key 'starttime'"],
  ])('%j', (seed, msg) => {
    expect(() => checkSeed(seed)).toThrow(msg);
  });
});

describe('pvesh stand-in: arguments and output', () => {
  test.each([
    [['get', '/version'], { verb: 'get', path: '/version', params: {}, format: 'text', quiet: false }],
    [['create', 'nodes/pve1/qemu/100/snapshot', '--snapname', 'a1', '--vmstate=1', '--output-format', 'json'],
      { verb: 'create', path: '/nodes/pve1/qemu/100/snapshot', params: { snapname: 'a1', vmstate: '1' }, format: 'json', quiet: false }],
    [['delete', '/nodes/pve1/qemu/100/snapshot/a1', '--force'], { verb: 'delete', path: '/nodes/pve1/qemu/100/snapshot/a1', params: { force: '1' }, format: 'text', quiet: false }],
    [['delete', '/nodes/pve1/qemu/100/snapshot/a1', '--force', '0'], { verb: 'delete', path: '/nodes/pve1/qemu/100/snapshot/a1', params: { force: '0' }, format: 'text', quiet: false }],
    // pvesh.pm's leading --noproxy/--nooutput, the standard --quiet, ls and usage
    [['--noproxy', '--nooutput', 'get', '/version'], { verb: 'get', path: '/version', params: {}, format: 'text', quiet: true }],
    [['get', '/version', '--quiet', '--noproxy'], { verb: 'get', path: '/version', params: {}, format: 'text', quiet: true }],
    [['get', '/version', '--quiet', '0'], { verb: 'get', path: '/version', params: {}, format: 'text', quiet: false }],
    [['ls', '/nodes', '--output-format=json'], { verb: 'ls', path: '/nodes', params: {}, format: 'json', quiet: false }],
    [['usage', '/nodes', '--returns', '--command', 'get'], { verb: 'usage', path: '/nodes', params: { returns: '1', command: 'get' }, format: 'text', quiet: false }],
  ] as const)('%j', (argv, want) => {
    expect(parsePveshArgs([...argv])).toEqual(want as any);
  });
  test.each([
    [['frob', '/x'], "ERROR: unknown command 'pvesh frob'"],
    [['get', '/version', '--output-format', 'xml'], "output-format: value 'xml' does not have a value in the enumeration"],
    [['create', '/nodes/pve1/qemu/100/snapshot', '--snapname'], 'snapname: option requires an argument\npvesh create <api_path> --snapname <string> [OPTIONS] [FORMAT_OPTIONS]'],
    [['ls'], '400 not enough arguments\npvesh ls <api_path> [OPTIONS] [FORMAT_OPTIONS]'],
    [['usage'], '400 not enough arguments\npvesh usage <api_path> [OPTIONS]'],
  ])('%j fails', (argv, msg) => {
    expect(() => parsePveshArgs(argv)).toThrow(msg);
  });
  test.each([
    ['create', '/nodes/pve1/qemu/100/snapshot', 'pvesh create <api_path> --snapname <string> [OPTIONS] [FORMAT_OPTIONS]'],
    ['get', '/nodes', 'pvesh get <api_path> [OPTIONS] [FORMAT_OPTIONS]'],
    ['create', '/pools', 'pvesh create <api_path> --poolid <string> [OPTIONS] [FORMAT_OPTIONS]'],
  ])('usage line of %s %s', (verb, p, line) => {
    expect(usageLine(verb, p)).toBe(line);
  });
  test('json is canonical; json-pretty indents by 3 with " : "', () => {
    expect(perlJson({ b: 1, a: [true, null, 'x'] }, false)).toBe('{"a":[true,null,"x"],"b":1}');
    expect(formatResult({ b: 1, a: { c: 'x' } }, 'json-pretty')).toBe('{\n   "a" : {\n      "c" : "x"\n   },\n   "b" : 1\n}\n');
  });
  test('yaml', () => {
    expect(formatResult([{ name: 'a', n: 1 }], 'yaml')).toBe('---\n- n: 1\n  name: a\n');
  });
});

describe('numbered config keys', () => {
  const cfg = info('POST', '/nodes/pve1/qemu/100/config').method;
  test('scsi1 and net0 validate against scsi[n] and net[n]', () => {
    expect(validateParams(cfg, { ...base, scsi1: 'nas:4', net0: 'virtio,bridge=vmbr0' }).errors).toBeUndefined();
    expect(validateParams(cfg, { ...base, scsix: 'nas:4' }).errors).toEqual({ scsix: 'property is not defined in schema and the schema does not allow additional properties' });
  });
});
