// The ONTAP simulator as a client sees it: REST collections, jobs, errors, ZAPI.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import crypto from 'node:crypto';
import { run } from '../helpers/bin.ts';
import { startOntapSim, writeConfig, type OntapSimHandle } from '../helpers/ontap.ts';
import { ONTAP_SEED } from './ontap-fixtures.ts';

// each test runs the compiled tool a few times; on a shared, loaded machine that can take
// longer than bun's 5 s default (a limit, not a speed assertion)
setDefaultTimeout(60_000);

let s: OntapSimHandle;
beforeAll(async () => {
  // time scale 0.001: jobs end within milliseconds (the clock tests below run at real speed)
  s = await startOntapSim({ seed: ONTAP_SEED, timeScale: 0.001, users: ['admin:netapp123', 'ro:other-pass'] });
});
afterAll(async () => {
  await s?.stop();
});

const uuidOf = async (name: string) => (await s.rest('GET', `/api/storage/volumes?name=${name}`)).body.records[0].uuid;
const waitJob = async (uuid: string) => {
  for (let i = 0; i < 200; i++) {
    const j = (await s.rest('GET', `/api/cluster/jobs/${uuid}?fields=state,code,message,error`)).body;
    if (j.state === 'success' || j.state === 'failure') return j;
    await Bun.sleep(5);
  }
  throw new Error('job did not end');
};

describe('REST collections', () => {
  test('only name and uuid unless fields= asks', async () => {
    const bare = (await s.rest('GET', '/api/storage/volumes?name=pve_data')).body.records[0];
    expect(Object.keys(bare).sort()).toEqual(['name', 'uuid']);
    const rich = (await s.rest('GET', '/api/storage/volumes?name=pve_data&fields=nas.path,nas.export_policy.name,clone.is_flexclone')).body.records[0];
    expect(rich).toMatchObject({ name: 'pve_data', nas: { path: '/vol/pve_nfs', export_policy: { name: 'pve_hosts' } }, clone: { is_flexclone: false } });
    expect(rich.svm).toBeUndefined();
  });

  test.each([
    ['nas.path=/vol/pve_nfs', ['other_data', 'pve_data']],
    ['nas.path=/vol/pve_nfs&svm.name=svm2', ['other_data']],
    ['name=pve_*', ['pve_data']],
    ['name=held|vols', ['held', 'vols']],
    ['name=!*_*&svm.name=svm1', ['held', 'vols']],
    ['clone.is_flexclone=true', ['held_child']],
    ['clone.parent_snapshot.name=base', ['held_child']],
  ])('filter %s', async (q, names) => {
    // page size 2: the client must follow _links.next to see everything
    const all: string[] = [];
    let next: string | undefined = `/api/storage/volumes?${q}`;
    let pages = 0;
    while (next) {
      const b: any = (await s.rest('GET', next)).body;
      expect(b.num_records).toBe(b.records.length);
      all.push(...b.records.map((r: any) => r.name));
      next = b._links.next?.href;
      pages++;
    }
    expect(all.sort()).toEqual(names);
    expect(pages).toBe(Math.max(1, Math.ceil(names.length / 2)));
  });

  test('_links.next keeps the query and fields', async () => {
    const first = (await s.rest('GET', '/api/storage/volumes?svm.name=svm1&fields=nas.path')).body;
    expect(first.records).toHaveLength(2);
    const second = (await s.rest('GET', first._links.next.href)).body;
    expect(second.records.every((r: any) => 'nas' in r)).toBe(true);
    expect(second.records.map((r: any) => r.name)).not.toContain(first.records[0].name);
  });
});

describe('jobs and errors', () => {
  test('nested and flattened bodies create the same clone; 202 + job', async () => {
    const parent = await uuidOf('held');
    const nested = await s.rest('POST', '/api/storage/volumes', { name: 'c_nested', svm: { name: 'svm1' }, clone: { parent_volume: { name: 'held' }, parent_snapshot: { name: 'base' }, is_flexclone: true }, nas: { path: '/c_nested' } });
    const flat = await s.rest('POST', '/api/storage/volumes', { name: 'c_flat', 'svm.name': 'svm1', 'clone.parent_volume.uuid': parent, 'clone.parent_snapshot.name': 'base', 'clone.is_flexclone': true, 'nas.path': '/c_flat' });
    for (const r of [nested, flat]) {
      expect(r.status).toBe(202);
      expect(r.body.job._links.self.href).toBe(`/api/cluster/jobs/${r.body.job.uuid}`);
      expect((await waitJob(r.body.job.uuid)).state).toBe('success');
    }
    const recs = (await s.rest('GET', '/api/storage/volumes?name=c_*&fields=nas.path,clone.parent_volume.name')).body.records;
    expect(recs.map((r: any) => [r.name, r.nas.path, r.clone.parent_volume.name]).sort()).toEqual([['c_flat', '/c_flat', 'held'], ['c_nested', '/c_nested', 'held']]);
  });

  test('deleting a held snapshot fails in the job with 1638543 (it has an owner) naming the clone', async () => {
    const v = await uuidOf('held');
    const snap = (await s.rest('GET', `/api/storage/volumes/${v}/snapshots?name=base`)).body.records[0];
    const r = await s.rest('DELETE', `/api/storage/volumes/${v}/snapshots/${snap.uuid}`);
    expect(r.status).toBe(202);
    const j = await waitJob(r.body.job.uuid);
    expect(j).toMatchObject({ state: 'failure', code: 1638543, error: { code: '1638543' } });
    expect(j.message).toMatch(/FlexClone volume "(held_child|c_nested|c_flat)"/);
  });

  test('return_timeout waits for the job; a failure comes back as the error', async () => {
    const v = await uuidOf('held');
    const ok = await s.rest('POST', `/api/storage/volumes/${v}/snapshots?return_timeout=10`, { name: 'rt1' });
    expect(ok.status).toBe(201);
    const dup = await s.rest('POST', `/api/storage/volumes/${v}/snapshots?return_timeout=10`, { name: 'rt1' });
    expect(dup.status).toBeGreaterThanOrEqual(400);
    expect(dup.body.error.message).toMatch(/already exists/);
  });

  test('POST /_sim/clock refuses a body without a usable advance', async () => {
    for (const body of [{}, { advance: 'soon' }, { advance: -5 }]) {
      const r = await s.rest('POST', '/_sim/clock', body);
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(/'advance'/);
    }
  });
  test.each([
    ['GET', '/api/storage/volumes/no-such-uuid', 404, '4'],
    ['POST', '/api/storage/volumes', 400, '2'],
    ['GET', '/api/no/such/thing', 404, '3'],
  ])('%s %s -> %d code %s', async (method, p, status, code) => {
    const r = await s.rest(method, p, method === 'POST' ? {} : undefined);
    expect(r.status).toBe(status);
    expect(r.body.error.code).toBe(code);
    expect(typeof r.body.error.message).toBe('string');
  });

  test('Basic auth: a wrong password is 401 for REST and ZAPI; every user configured works', async () => {
    const bad = 'Basic ' + Buffer.from('admin:nope').toString('base64');
    expect((await s.rest('GET', '/api/cluster', undefined, bad)).status).toBe(401);
    expect((await s.zapi('<netapp version="1.21"><system-get-version/></netapp>', bad)).status).toBe(401);
    const other = 'Basic ' + Buffer.from('ro:other-pass').toString('base64');
    expect((await s.rest('GET', '/api/cluster', undefined, other)).status).toBe(200);
  });
});

describe('the simulated clock', () => {
  // real speed (time scale 1): nothing a test waits for happens on its own within the test,
  // only when the clock is moved on
  let slow: OntapSimHandle;
  beforeAll(async () => {
    slow = await startOntapSim({ seed: ONTAP_SEED, timeScale: 1 });
  });
  afterAll(async () => {
    await slow?.stop();
  });
  const job = async (uuid: string) => slow.rest('GET', `/api/cluster/jobs/${uuid}?fields=state`);

  test('a job ends when its duration has passed, and vanishes 300 s after it ended', async () => {
    const v = (await slow.rest('GET', '/api/storage/volumes?name=pve_data')).body.records[0].uuid;
    const r = await slow.rest('POST', `/api/storage/volumes/${v}/snapshots`, { name: 'clocked' });
    expect(r.status).toBe(202);
    const uuid = r.body.job.uuid;
    expect((await job(uuid)).body.state).toBe('queued');
    const before = (await slow.state()).volumes.find((x: any) => x.name === 'pve_data').snapshots.length;
    await slow.advance(1);
    expect((await job(uuid)).body.state).toBe('success');
    expect((await slow.state()).volumes.find((x: any) => x.name === 'pve_data').snapshots.length).toBe(before + 1);
    await slow.advance(250);
    expect((await job(uuid)).status).toBe(200);
    await slow.advance(50);
    const gone = await job(uuid);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('4');
  });

  test('the snapshot create time follows the moved clock', async () => {
    const v = (await slow.rest('GET', '/api/storage/volumes?name=held')).body.records[0].uuid;
    await slow.advance(86400);
    const r = await slow.rest('POST', `/api/storage/volumes/${v}/snapshots`, { name: 'tomorrow' });
    expect(r.status).toBe(202);
    await slow.advance(1);
    const snap = (await slow.rest('GET', `/api/storage/volumes/${v}/snapshots?name=tomorrow&fields=create_time`)).body.records[0];
    const ageDays = (Date.parse(snap.create_time) - Date.now()) / 86400_000;
    expect(ageDays).toBeGreaterThan(0.99);
    expect(ageDays).toBeLessThan(1.01);
  });
});

describe('ZAPI', () => {
  test('iterators page through next-tag; values keep their text', async () => {
    const names: string[] = [];
    let tag = '';
    for (let i = 0; i < 10; i++) {
      const r = await s.zapi(`<netapp version="1.21" vfiler="svm1"><volume-get-iter><max-records>2</max-records>${tag ? `<tag>${tag}</tag>` : ''}</volume-get-iter></netapp>`);
      expect(r.text).toMatch(/<results status="passed">/);
      names.push(...[...r.text.matchAll(/<volume-id-attributes><name>([^<]+)<\/name>/g)].map((m) => m[1]));
      tag = /<next-tag>([^<]+)<\/next-tag>/.exec(r.text)?.[1] ?? '';
      if (!tag) break;
    }
    expect(names).toContain('pve_data');
    expect(names).not.toContain('other_data');
    expect(new Set(names).size).toBe(names.length);
  });

  test.each([
    ['<snapshot-create><volume>nope</volume><snapshot>x</snapshot></snapshot-create>', '13040'],
    ['<snapshot-delete><volume>pve_data</volume><snapshot>nope</snapshot></snapshot-delete>', '15661'],
    ['<snapshot-create><volume>pve_data</volume><snapshot>nightly.0</snapshot></snapshot-create>', '13130'],
    ['<no-such-api/>', '13005'],
  ])('%s -> errno %s', async (body, errno) => {
    const r = await s.zapi(`<?xml version="1.0"?><netapp version="1.21" vfiler="svm1">${body}</netapp>`);
    expect(r.status).toBe(200);
    expect(r.text).toMatch(new RegExp(`<results status="failed" errno="${errno}" reason="[^"]+"`));
  });
});

describe('command line', () => {
  test.each([
    [['--seed', '/nonexistent.json'], /--seed: cannot read \/nonexistent.json/],
    [['--faults', 'explode=1'], /unknown fault 'explode'/],
    [['--time-scale', '0'], /--time-scale: '0' is not a positive number/],
    [['--user', 'nocolon'], /--user: .* is not USER:PASSWORD/],
    [['--bogus'], /unknown option '--bogus'/],
    [['--seed', writeConfig('{"svms": []}', 0o600, 'seed.json')], /seed.json: 'svms' must be a non-empty array/],
    [['--seed', writeConfig('{"svms": [{"name": "s", "volumes": [{"name": "bad-name"}]}]}', 0o600, 'seed.json')], /volumes\[0\]: 'name' must be a volume name/],
    [['--seed', writeConfig('{"svms": [{"name": "s", "volumes": [{"name": "c", "clone": {"parentVolume": "p", "parentSnapshot": "x"}}]}]}', 0o600, 'seed.json')], /seed.json: entry doesn't exist: volume "p"/],
    [['--seed', writeConfig('{not json', 0o600, 'seed.json')], /is not valid JSON/],
    [['--tls-cert', writeConfig('x', 0o600, 'c.pem')], /--tls-cert and --tls-key go together/],
    [['--tls-cert', writeConfig('x', 0o600, 'c.pem'), '--tls-key', '/nonexistent.key'], /--tls-key: cannot read \/nonexistent.key: ENOENT/],
    [['--tls-cert', writeConfig('not a certificate', 0o600, 'c.pem'), '--tls-key', writeConfig('x', 0o600, 'k.pem')], /--tls-cert: \S+c.pem holds no PEM certificate/],
  ])('%p is refused', async (args, msg) => {
    const r = await run(['ontap-sim', ...args, '--listen', '127.0.0.1:0'], { timeoutMs: 10_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(r.stdout).toBe('');
  });

  test('a key that does not belong to the certificate is refused', async () => {
    const cert = writeConfig(await s.certPem(), 0o600, 'c.pem');
    const key = writeConfig(crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600, 'k.pem');
    const r = await run(['ontap-sim', '--tls-cert', cert, '--tls-key', key, '--listen', '127.0.0.1:0'], { timeoutMs: 10_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--tls-key: \S+k.pem is not the key of the first certificate in \S+c.pem/);
  });
});
