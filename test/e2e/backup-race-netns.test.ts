// Three nodes racing, each in its own network namespace, against one backup server (the
// stand-in listens on a bridge in the root namespace; a real sshd records the shutdown),
// sharing one lock directory, through the compiled executable. Every round: the three jobs
// start at once (the first wakes the server), then end at once with a random jitter;
// exactly one shutdown per round, never before the last job began its end, no lock left.
// BACKUP_RACE_ROUNDS sets the number of rounds (default 50). Root and ip(8) needed.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { BIN } from '../helpers/bin.ts';
import { World, sleep } from './backup-fixture.ts';

const ROUNDS = Number(process.env.BACKUP_RACE_ROUNDS ?? 50);
const CAN = process.getuid?.() === 0 && spawnSync('/usr/sbin/ip', ['netns', 'list']).status === 0;
// the whole pid (7 digits at most): interface names stay within 15 characters
const TAG = `asr${process.pid}`;
const BR = `${TAG}br`;
const NODES = ['pve1', 'pve2', 'pve3'];
const HOST = '10.78.0.1';

function ip(...args: string[]): void {
  const r = spawnSync('/usr/sbin/ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

/**
 * What a run that was killed left behind (its afterAll never ran): namespaces and a bridge
 * named after a pid that no longer runs. Its bridge holds the same HOST address, so it
 * would take this run's packets; remove it first.
 */
function removeLeftovers(): void {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
  const gone = (name: string) => {
    const m = /^asr(\d+)/.exec(name);
    return m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]));
  };
  const netns = spawnSync('/usr/sbin/ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const name of netns.split('\n').map((l) => l.split(' ')[0])) if (name && gone(name)) spawnSync('/usr/sbin/ip', ['netns', 'del', name]);
  const links = spawnSync('/usr/sbin/ip', ['-br', 'link'], { encoding: 'utf8' }).stdout ?? '';
  for (const name of links.split('\n').map((l) => l.split(/[\s@]/)[0])) if (name && /^asr\d+br$/.test(name) && gone(name)) spawnSync('/usr/sbin/ip', ['link', 'del', name]);
}

beforeAll(() => {
  if (!CAN) return;
  removeLeftovers();
  ip('link', 'add', BR, 'type', 'bridge');
  ip('addr', 'add', `${HOST}/24`, 'dev', BR);
  ip('link', 'set', BR, 'up');
  NODES.forEach((n, i) => {
    const ns = `${TAG}${n}`;
    ip('netns', 'add', ns);
    ip('link', 'add', `${TAG}h${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('link', 'set', `${TAG}h${i}`, 'master', BR);
    ip('link', 'set', `${TAG}h${i}`, 'up');
    ip('-n', ns, 'addr', 'add', `10.78.0.${11 + i}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  });
});
afterAll(() => {
  if (!CAN) return;
  for (const n of NODES) spawnSync('/usr/sbin/ip', ['netns', 'del', `${TAG}${n}`]);
  spawnSync('/usr/sbin/ip', ['link', 'del', BR]);
});

/** One hook call in a node's namespace, vzdump's emptied environment; times when it began and ended. */
function hook(w: World, node: string, phase: string, delayMs = 0): Promise<{ node: string; phase: string; code: number; out: string; began: number; ended: number }> {
  return sleep(delayMs).then(
    () =>
      new Promise((resolve) => {
        const began = Date.now();
        const env = [`AUTOSNAP_CONFIG=${w.config}`, 'STOREID=backup', `DUMPDIR=${path.join(w.store, 'dump')}`];
        const child = spawn('/usr/sbin/ip', ['netns', 'exec', `${TAG}${node}`, '/usr/bin/env', '-i', ...env, BIN, 'backup-hook', phase, '--node', node], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout!.on('data', (d) => (out += d));
        child.stderr!.on('data', (d) => (out += d));
        child.on('close', (code) => resolve({ node, phase, code: code ?? 128, out, began, ended: Date.now() }));
      }),
  );
}

describe.skipIf(!CAN)('three nodes in network namespaces', () => {
  test(
    `${ROUNDS} rounds: exactly one shutdown per round, never under a running job`,
    async () => {
      const w = await new World(HOST).start({ ssh: true, overrides: { shutdown_delay: '200ms', probe_interval: '50ms' } });
      try {
        for (let round = 1; round <= ROUNDS; round++) {
          const before = w.shutdowns();
          const downsBefore = w.server.downTimes.length;
          const starts = await Promise.all(NODES.map((n) => hook(w, n, 'job-start', Math.random() * 100)));
          for (const s of starts) expect({ round, node: s.node, code: s.code, out: s.code ? s.out : '' }).toEqual({ round, node: s.node, code: 0, out: '' });
          expect(w.locks()).toHaveLength(3);
          const ends = await Promise.all(NODES.map((n) => hook(w, n, Math.random() < 0.2 ? 'job-abort' : 'job-end', Math.random() * 400)));
          for (const e of ends) expect({ round, node: e.node, code: e.code }).toEqual({ round, node: e.node, code: 0 });
          expect({ round, shutdowns: w.shutdowns() - before }).toEqual({ round, shutdowns: 1 });
          expect({ round, locks: w.locks() }).toEqual({ round, locks: [] });
          // the server went down after the last job began its end, never under a job
          const lastEndBegan = Math.max(...ends.map((e) => e.began));
          const down = w.server.downTimes.slice(downsBefore);
          expect(down.length).toBe(1);
          expect(down[0]).toBeGreaterThan(lastEndBegan);
          expect(ends.filter((e) => e.out.includes('shutting down backup server'))).toHaveLength(1);
        }
      } finally {
        await w.stop();
      }
    },
    Math.max(120_000, ROUNDS * 15_000),
  );
});
