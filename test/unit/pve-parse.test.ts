import { describe, expect, test } from 'bun:test';
import { formatUpid, isUpid, parseUpid } from '../../lib/clients/pve/upid.ts';
import { interpretExitstatus } from '../../lib/clients/pve/tasks.ts';
import { PveApiError, parsePermissionMessage, paramErrorsOf, pveMessageOf, pveshErrorFrom } from '../../lib/clients/pve/errors.ts';
import { formatHost, normalizeFingerprint, parseFingerprints, parseHostList } from '../../lib/core/hosts.ts';
import { backoffDelay, pollDelays } from '../../lib/clients/pve/retry.ts';
import { encodeParams } from '../../lib/clients/pve/api.ts';
import { parsePveshOutput, pveshArgs } from '../../lib/clients/pve/pvesh.ts';
import { EXIT } from '../../lib/core/errors.ts';

describe('UPID', () => {
  test.each([
    ['UPID:pve1:0000ABCD:0012F00D:6553F100:qmsnapshot:100:root@pam:', { node: 'pve1', pid: 0xabcd, pstart: 0x12f00d, starttime: 0x6553f100, type: 'qmsnapshot', id: '100', user: 'root@pam' }],
    ['UPID:node-2:00001234:123456789:00000001:vzdelsnapshot:105:snap@pve!auto:', { node: 'node-2', pid: 0x1234, pstart: 0x123456789, starttime: 1, type: 'vzdelsnapshot', id: '105', user: 'snap@pve!auto' }],
    ['UPID:pve3:00000001:00000002:00000003:vzdump::root@pam:', { node: 'pve3', pid: 1, pstart: 2, starttime: 3, type: 'vzdump', id: '', user: 'root@pam' }],
  ])('%s parses and formats back', (text, fields) => {
    expect(parseUpid(text)).toEqual(fields);
    expect(formatUpid(parseUpid(text))).toBe(text);
    expect(isUpid(text)).toBe(true);
  });
  test('lower-case hex parses and formats upper-case', () => {
    expect(formatUpid(parseUpid('UPID:pve1:0000abcd:0012f00d:6553f100:qmsnapshot:100:root@pam:'))).toBe('UPID:pve1:0000ABCD:0012F00D:6553F100:qmsnapshot:100:root@pam:');
  });
  test.each([
    'UPID:pve1:ABCD:0012F00D:6553F100:qmsnapshot:100:root@pam:',
    'UPID:pve1:0000ABCD:0012F00D:6553F100:qmsnapshot:100:root@pam',
    'pve1:0000ABCD:0012F00D:6553F100:qmsnapshot:100:root@pam:',
    'UPID:-pve1:0000ABCD:0012F00D:6553F100:qmsnapshot:100:root@pam:',
    '"UPID:pve1:0000ABCD:0012F00D:6553F100:qmsnapshot:100:root@pam:"',
    '',
  ])('rejects %p', (text) => {
    expect(() => parseUpid(text)).toThrow('unable to parse task id');
    expect(isUpid(text)).toBe(false);
  });
});

describe('task exitstatus', () => {
  test.each([
    ['OK', true, 0],
    ['WARNINGS: 3', true, 3],
    ['WARNINGS: 0', true, 0],
    ["VM is locked (backup)", false, 0],
    ["snapshot name 'x' already used", false, 0],
    ['ok', false, 0],
    ['', false, 0],
    [undefined, false, 0],
    ['WARNINGS: many', false, 0],
  ])('%p -> ok %p warnings %p', (s, ok, warnings) => {
    expect(interpretExitstatus(s as string | undefined)).toEqual({ ok, warnings });
  });
});

describe('API error messages', () => {
  test.each([
    [{ message: 'VM 100 not running\n' }, 'reason', 500, 'VM 100 not running'],
    [{ data: null }, 'Parameter verification failed.', 400, 'Parameter verification failed.'],
    [undefined, 'Permission check failed (/vms/100, VM.Audit)', 403, 'Permission check failed (/vms/100, VM.Audit)'],
    [{ message: '' }, '', 502, 'HTTP 502'],
  ])('body %p reason %p -> %p', (body, reason, status, msg) => {
    expect(pveMessageOf(body, reason, status)).toBe(msg);
  });
  test('one line with method, path, status and message', () => {
    const e = new PveApiError({ status: 500, method: 'POST', path: '/nodes/pve1/qemu/100/snapshot', pveMessage: "unable to use snapshot name 'current' (reserved name)" });
    expect(e.message).toBe("POST /nodes/pve1/qemu/100/snapshot: 500 unable to use snapshot name 'current' (reserved name)");
    expect(e.exitCode).toBe(EXIT.FAILED);
  });
  test.each([
    ['Permission check failed (/vms/100, VM.Snapshot)', 'missing privilege VM.Snapshot on /vms/100'],
    ['Permission check failed (/storage/local-zfs, Datastore.Audit)', 'missing privilege Datastore.Audit on /storage/local-zfs'],
    ['Permission check failed (/vms/100, VM.Snapshot|VM.Snapshot.Rollback)', 'missing privilege VM.Snapshot or VM.Snapshot.Rollback on /vms/100'],
    ['Permission check failed', 'GET /x: 403 Permission check failed'],
  ])('403 %p -> %p', (pveMessage, line) => {
    expect(new PveApiError({ status: 403, method: 'GET', path: '/x', pveMessage }).message).toBe(line);
  });
  test('permission message parts', () => {
    expect(parsePermissionMessage('Permission check failed (/pool/prod, Pool.Audit)')).toEqual({ path: '/pool/prod', privilege: 'Pool.Audit' });
    expect(parsePermissionMessage('something else')).toBeUndefined();
  });
  test('400 parameter errors are part of the line', () => {
    const errors = paramErrorsOf({ data: null, errors: { snapname: 'invalid format - invalid configuration ID \'1x\'\n' } });
    expect(errors).toEqual({ snapname: "invalid format - invalid configuration ID '1x'" });
    const e = new PveApiError({ status: 400, method: 'POST', path: '/p', pveMessage: 'Parameter verification failed.', errors });
    expect(e.message).toBe("POST /p: 400 Parameter verification failed. (snapname: invalid format - invalid configuration ID '1x')");
    expect(e.errors).toEqual(errors!);
    expect(paramErrorsOf({ data: null })).toBeUndefined();
  });
  test('401 maps to exit 3', () => {
    expect(new PveApiError({ status: 401, method: 'GET', path: '/', pveMessage: 'No ticket' }).exitCode).toBe(EXIT.UNREACHABLE);
  });
});

describe('pvesh', () => {
  test.each([
    ["No 'get' handler defined for '/nodes/pve1/nothing'\n", 501, undefined],
    ['400 Parameter verification failed.\nsnapname: property is missing and it is not optional\nvmstate: type check (\'boolean\') failed - got \'x\'\n', 400, { snapname: 'property is missing and it is not optional', vmstate: "type check ('boolean') failed - got 'x'" }],
    ["Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist\n", 500, undefined],
    ['', 500, undefined],
  ])('stderr %p -> %p', (stderr, status, errors) => {
    const e = pveshErrorFrom('POST', '/nodes/pve1/qemu/100/snapshot', stderr, 255);
    expect(e.status).toBe(status);
    expect(e.errors).toEqual(errors as any);
    expect(e.message).not.toContain('\n');
  });
  test.each([
    ['{"version":"9.1.1"}\n', { version: '9.1.1' }],
    ['[{"name":"a"},\n{"name":"current"}]', [{ name: 'a' }, { name: 'current' }]],
    ['snapshotting \'drive-scsi0\' (local-zfs:vm-100-disk-0)\n"UPID:pve1:0000ABCD:0012F00D:6553F100:qmsnapshot:100:root@pam:"\n', 'UPID:pve1:0000ABCD:0012F00D:6553F100:qmsnapshot:100:root@pam:'],
    ['log line\nUPID:pve1:0000ABCD:0012F00D:6553F100:qmsnapshot:100:root@pam:\n', 'UPID:pve1:0000ABCD:0012F00D:6553F100:qmsnapshot:100:root@pam:'],
    ['', null],
    ['null\n', null],
  ])('stdout %p -> %p', (stdout, value) => {
    expect(parsePveshOutput(stdout)).toEqual(value);
  });
  test('arguments: verb, path, params, json output', () => {
    expect(pveshArgs('POST', '/nodes/pve1/qemu/100/snapshot', { snapname: 'a1', vmstate: true, description: undefined })).toEqual(['create', '/nodes/pve1/qemu/100/snapshot', '--snapname', 'a1', '--vmstate', '1', '--output-format', 'json']);
    expect(pveshArgs('DELETE', '/x', { force: false })).toEqual(['delete', '/x', '--force', '0', '--output-format', 'json']);
    expect(pveshArgs('PUT', '/x')[0]).toBe('set');
    expect(pveshArgs('GET', '/x')[0]).toBe('get');
  });
});

describe('parameters', () => {
  test('booleans as 0/1, undefined left out, values encoded', () => {
    expect(encodeParams({ type: 'vm', force: true, start: false, skip: undefined, description: 'a b&c', n: 5 })).toBe('type=vm&force=1&start=0&description=a+b%26c&n=5');
    expect(encodeParams(undefined)).toBe('');
  });
});

describe('host lists', () => {
  test.each([
    ['pve1', [['pve1', 8006]]],
    ['pve1,pve2:8007', [['pve1', 8006], ['pve2', 8007]]],
    ['10.0.0.1:443, 10.0.0.2', [['10.0.0.1', 443], ['10.0.0.2', 8006]]],
    ['[fd00::1]:8443,[fd00::2]', [['fd00::1', 8443], ['fd00::2', 8006]]],
    ['fd00::3', [['fd00::3', 8006]]],
    ['https://pve1.example.com:8006/', [['pve1.example.com', 8006]]],
  ])('%p', (text, hosts) => {
    expect(parseHostList(text)).toEqual(hosts.map(([host, port]) => ({ host: host as string, port: port as number })));
  });
  test.each([
    ['', '--host: no host given'],
    ['pve1:0', "--host: 'pve1:0' has a bad port '0'"],
    ['pve1:99999', "has a bad port '99999'"],
    ['pve1:http', "has a bad port 'http'"],
    ['[fd00::1]:x', "has a bad port 'x'"],
    ['pve$1', "'pve$1' is not a host name"],
  ])('%p is refused: %p', (text, msg) => {
    expect(() => parseHostList(text)).toThrow(msg);
  });
  test('whitespace separates hosts like commas do', () => {
    expect(parseHostList('pve1 pve2')).toEqual([{ host: 'pve1', port: 8006 }, { host: 'pve2', port: 8006 }]);
  });
  test('format puts brackets around IPv6', () => {
    expect(formatHost({ host: 'fd00::1', port: 8006 })).toBe('[fd00::1]:8006');
    expect(formatHost({ host: 'pve1', port: 8006 })).toBe('pve1:8006');
  });
});

describe('fingerprints', () => {
  const fp = 'CD:AF:B9:E0:02:67:7C:E2:23:81:8A:B4:ED:80:EE:55:EE:6A:59:3D:05:70:96:DE:98:16:B3:6D:AF:B4:A2:60';
  test.each([
    [fp],
    [fp.toLowerCase()],
    [fp.replace(/:/g, '')],
    [`sha256 Fingerprint=${fp}`],
    [`SHA256:${fp.toLowerCase().replace(/:/g, '')}`],
    [`  ${fp}  `],
  ])('%p normalises', (text) => {
    expect(normalizeFingerprint(text)).toBe(fp);
  });
  test.each([[fp.slice(3)], ['zz' + fp.slice(2)], ['']])('%p is refused', (text) => {
    expect(() => normalizeFingerprint(text)).toThrow('is not a SHA-256 fingerprint');
  });
  test('lists: comma separated and repeated', () => {
    const other = fp.replace(/^CD/, 'AB');
    expect(parseFingerprints(`${fp},${other.toLowerCase()}`)).toEqual([fp, other]);
    expect(parseFingerprints([fp, other])).toEqual([fp, other]);
    expect(parseFingerprints(undefined)).toEqual([]);
  });
});

describe('backoff', () => {
  const p = { baseMs: 200, maxMs: 5000, factor: 2 };
  test.each([
    [1, 0, 100], [1, 1, 200], [2, 0, 200], [2, 1, 400], [3, 0.5, 600], [5, 1, 3200], [6, 1, 5000], [6, 0, 2500], [20, 1, 5000],
  ])('retry %p random %p -> %p ms', (retry, r, ms) => {
    expect(backoffDelay(retry, p, () => r)).toBe(ms);
  });
  test('task polls start fast and back off to 2 s', () => {
    expect(pollDelays(11)).toEqual([50, 75, 113, 170, 255, 383, 575, 863, 1295, 1943, 2000]);
  });
});
