// Seeds for the benchmarks: a cluster of N nodes with M guests each, every guest holding
// a few snapshots of one label (made by us: marker description, label names).
import type { Seed, SeedGuest } from '../lib/sim/pve/seed.ts';
import { MARKER, snapshotName } from '../lib/domain/retention/naming.ts';

export interface BenchSeedOptions {
  nodes: number;
  guestsPerNode: number;
  label: string;
  snapshotsPerGuest: number;
  /** seconds at time scale 1 */
  createSeconds: number;
  deleteSeconds: number;
  /** unix seconds of the newest seeded snapshot */
  newest: number;
}

export function benchSeed(o: BenchSeedOptions): Seed {
  const nodes = Array.from({ length: o.nodes }, (_, i) => ({ node: `pve${i + 1}`, status: 'online' as const }));
  const guests: SeedGuest[] = [];
  let vmid = 100;
  for (const { node } of nodes) {
    for (let i = 0; i < o.guestsPerNode; i++, vmid++) {
      const snapshots = Array.from({ length: o.snapshotsPerGuest }, (_, k) => {
        // one per hour, oldest first, all older than the run
        const t = o.newest - (o.snapshotsPerGuest - 1 - k) * 3600;
        return { name: snapshotName(o.label, t, { tz: 'UTC' }), snaptime: t, description: MARKER };
      });
      guests.push({
        vmid,
        type: 'qemu',
        node,
        name: `bench${vmid}`,
        status: 'running',
        tags: ['bench'],
        agent: false,
        disks: { scsi0: `local-zfs:vm-${vmid}-disk-0,size=8G` },
        snapshots,
      });
    }
  }
  return {
    cluster: 'bench',
    nodes,
    storages: [
      { storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', shared: false, nodes: nodes.map((n) => n.node), total: 1e13, used: 1e11 },
    ],
    guests,
    taskDurations: {
      qmsnapshot: o.createSeconds,
      qmdelsnapshot: o.deleteSeconds,
      vzsnapshot: o.createSeconds,
      vzdelsnapshot: o.deleteSeconds,
    },
  };
}
