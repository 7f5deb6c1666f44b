// ontap-snapshot against an ONTAP cluster whose certificate a CA signed (as a company CA
// signs a management LIF's certificate): a pin of the leaf holds, a wrong pin is refused
// before any request, the CA as ca_file works, and the hint for an untrusted certificate
// names a fingerprint that then works.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeConfig } from '../helpers/ontap.ts';
import { configText, errorLines, startClusters, type Clusters } from './ontap-fixtures.ts';

// each test runs the compiled tool a few times; on a shared, loaded machine that can take
// longer than bun's 5 s default (a limit, not a speed assertion)
setDefaultTimeout(60_000);

let c: Clusters;
let dir: string;
let caFile: string;
let leafFp: string;
let caFp: string;

const fpOf = (pemFile: string) => new crypto.X509Certificate(fs.readFileSync(pemFile)).fingerprint256.toUpperCase();

/** A CA and a leaf for 127.0.0.1 that it signed, made with openssl as an admin would. */
function makeCaAndLeaf(d: string): { ca: string; leaf: string; key: string } {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: d, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=autosnap test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  ssl('req', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=cluster1.example');
  fs.writeFileSync(path.join(d, 'leaf.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '30', '-extfile', 'leaf.ext');
  return { ca: path.join(d, 'ca.pem'), leaf: path.join(d, 'leaf.pem'), key: path.join(d, 'leaf.key') };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ontap-tls-'));
  const f = makeCaAndLeaf(dir);
  caFile = f.ca;
  leafFp = fpOf(f.leaf);
  caFp = fpOf(f.ca);
  c = await startClusters({ ontap: { tlsCert: f.leaf, tlsKey: f.key } });
});
afterAll(async () => {
  await c?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** the config with the [ontap] pin line replaced */
const withTrust = (line: string, extra = '') => writeConfig(configText(c.pve, c.ontap, extra).replace(`fingerprint = ${c.ontap.fingerprint}\n`, line ? `${line}\n` : ''));
const apiRequests = async () => {
  const stats = (await c.ontap.rest('GET', '/_sim/stats')).body as Record<string, number>;
  return Object.entries(stats).filter(([k]) => !k.includes('/_sim/')).reduce((n, [, v]) => n + v, 0);
};

describe('a CA-signed ONTAP certificate', () => {
  test('the simulator serves the given leaf, not a CA-flagged self-signed one', () => {
    expect(c.ontap.fingerprint).toBe(leafFp);
    expect(leafFp).not.toBe(caFp);
  });

  test.each([['rest'], ['zapi']])('pinned leaf fingerprint (api = %s): snapshot made, listed and deleted', async (api) => {
    const cfg = withTrust(`fingerprint = ${leafFp}`, `api = ${api}\n`);
    const name = `pinned_${api}`;
    const made = await c.tool(['storage', 'create', '--storage', 'nfs1', '--snapshot', name, '--config', cfg]);
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const list = await c.tool(['storage', 'list', '--storage', 'nfs1', '-o', 'json', '--config', cfg]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).map((s: any) => s.snapshot ?? s.name)).toContain(name);
    expect((await c.tool(['storage', 'delete', '--storage', 'nfs1', '--snapshot', name, '--config', cfg])).code).toBe(0);
  });

  test('a pin that does not match (the CA\'s): one line, exit 3, no request reaches the cluster', async () => {
    const before = await apiRequests();
    const r = await c.tool(['storage', 'list', '--storage', 'nfs1', '--config', withTrust(`fingerprint = ${caFp}`)]);
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split('\n')).toEqual([
      `error: ontap-snapshot: ONTAP ${c.ontap.hostPort}: certificate fingerprint ${leafFp} does not match the pinned ${caFp}; refusing to connect`,
    ]);
    expect(await apiRequests()).toBe(before);
  });

  test('the CA as ca_file works', async () => {
    const r = await c.tool(['storage', 'list', '--storage', 'nfs1', '--config', withTrust(`ca_file = ${caFile}`)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  test('neither pin nor CA: refused with a hint whose fingerprint then works', async () => {
    const r = await c.tool(['storage', 'list', '--storage', 'nfs1', '--config', withTrust('')]);
    expect(r.code).toBe(3);
    expect(errorLines(r)).toHaveLength(1);
    const hinted = /pin it with fingerprint = ([0-9A-F:]{95}) or give ca_file/.exec(r.stderr)?.[1];
    expect(hinted).toBe(leafFp);
    expect((await c.tool(['storage', 'list', '--storage', 'nfs1', '--config', withTrust(`fingerprint = ${hinted}`)])).code).toBe(0);
  });
});
