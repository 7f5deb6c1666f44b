// The shipped ontap-snapshot-snap@.service runs what docs/ontap-snapshot.md says: its
// ExecStart, expanded as systemd expands it (%i the instance, ${VAR} one word, $VAR split
// into words) with the documented /etc/autosnap/ontap-snapshot/daily.conf, is run as the
// compiled executable against both simulators.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import fs from 'node:fs';
import path from 'node:path';
import { run } from '../helpers/bin.ts';
import { FAST, startClusters, vol, type Clusters } from './ontap-fixtures.ts';

setDefaultTimeout(60_000);
const ROOT = path.resolve(import.meta.dir, '../..');

let c: Clusters;
beforeAll(async () => {
  c = await startClusters();
});
afterAll(async () => {
  await c?.stop();
});

/** the KEY=value lines of the documented daily.conf */
function documentedConf(): Record<string, string> {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/ontap-snapshot.md'), 'utf8');
  const block = /```sh\n# \/etc\/autosnap\/ontap-snapshot\/daily\.conf\n([\s\S]*?)```/.exec(doc);
  if (!block) throw new Error('docs/ontap-snapshot.md has no daily.conf example');
  return Object.fromEntries(block[1].trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** systemd's expansion of an ExecStart line, for the specifiers and variables it uses */
function expand(line: string, instance: string, env: Record<string, string>): string[] {
  return line
    .replace(/%i/g, instance)
    .split(/\s+/)
    .flatMap((w) => {
      const braced = /^\$\{(\w+)\}$/.exec(w);
      if (braced) return [env[braced[1]] ?? ''];
      const bare = /^\$(\w+)$/.exec(w);
      if (bare) return (env[bare[1]] ?? '').split(/\s+/).filter(Boolean);
      return [w];
    });
}

describe('ontap-snapshot-snap@daily.service with the documented daily.conf', () => {
  test('expands to a storage snap that makes the labelled snapshot', async () => {
    const unit = fs.readFileSync(path.join(ROOT, 'systemd/ontap-snapshot-snap@.service'), 'utf8');
    const exec = /^ExecStart=(.+)$/m.exec(unit)![1];
    const env = documentedConf();
    expect(env.STORAGE).toBe('nas-nfs');
    const words = expand(exec, 'daily', { ...env, STORAGE: 'nfs1' });
    expect(words[0]).toBe('/opt/autosnap/bin/autosnap');
    expect(words.slice(1, 7)).toEqual(['ontap-snapshot', 'storage', 'snap', '--storage', 'nfs1', '--label']);
    const r = await run([...words.slice(1), '--config', c.config], { env: { ...FAST, AUTOSNAP_CONFIG: undefined } });
    expect(r.stderr).toMatch(/^keeping 1, removing 0/m);
    expect(r.code).toBe(0);
    const made = vol(await c.ontap.state(), 'pve_data').snapshots.find((s: any) => /^ontap_daily_\d{14}$/.test(s.name));
    expect(made).toBeDefined();
    // the documented POLICY's --snapmirror-label reached ONTAP: every word of it was passed
    expect(made.snapmirrorLabel).toBe('daily');
  });
});
