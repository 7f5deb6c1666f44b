// PUT/POST .../config of the simulated guests: the checks in qemu-server's and
// pve-container's order (skiplock, the root-only `lock` key, digest, guest lock), then the
// update of disks, name, tags, agent, lock and the other keys.
import { PveError } from './errors.ts';
import type { PveModel } from './model.ts';
import { LXC_DISK_RE, QEMU_DISK_RE, type Guest } from './records.ts';

/**
 * PUT/POST .../config: disks (a new volume from `STORAGE:SIZE_GB`), name, tags, agent,
 * `lock`, other keys, `delete`. `user` is the caller as PVE's rpcenv names it: an API
 * token is `user@realm!id`, so even root's own token is not `root@pam`.
 */
export function updateConfig(model: PveModel, g: Guest, params: Record<string, unknown>, user: string): void {
  const root = user === 'root@pam';
  const deletes = String(params.delete ?? '').split(/[,;\s]+/).filter(Boolean);
  const locked = () => {
    try {
      model.checkLock(g);
    } catch (e: any) {
      throw new PveError(500, e.message);
    }
  };
  if (g.type === 'qemu') {
    // qemu-server's update_vm_api: skiplock first, then the per-option permission check
    // (`lock` is root@pam's alone), then digest and lock inside the config lock
    if (params.skiplock && !root) throw new PveError(400, 'Parameter verification failed.', { skiplock: 'Only root may use this option.' });
    if (!root && (params.lock !== undefined || deletes.includes('lock'))) throw new PveError(500, "only root can set 'lock' config");
    if (params.digest !== undefined && params.digest !== g.digest) {
      throw new PveError(500, 'detected modified configuration - file changed by other user? Try again.');
    }
    if (!params.skiplock) locked();
  } else {
    // pve-container checks the lock unconditionally (it has no skiplock): a locked
    // container is unlocked only by `pct unlock` on its node, never over the API
    locked();
    if (params.digest !== undefined && params.digest !== g.digest) {
      throw new PveError(500, 'detected modified configuration - file changed by other user? Try again.');
    }
  }
  const diskRe = g.type === 'qemu' ? QEMU_DISK_RE : LXC_DISK_RE;
  const skip = new Set(['node', 'vmid', 'digest', 'skiplock', 'delete', 'revert', 'background_delay', 'force']);
  for (const [k, v] of Object.entries(params)) {
    if (skip.has(k)) continue;
    const value = String(v);
    if (diskRe.test(k)) {
      const m = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(\d+(?:\.\d+)?)(,.*)?$/i.exec(value);
      if (m) {
        const st = model.storages.get(m[1]);
        if (!st) throw new PveError(500, `storage '${m[1]}' does not exist`);
        // the next free disk number, counting volumes still held by snapshots
        let n = 0;
        for (const d of [g.disks, ...[...g.snapshots.values()].map((x) => x.disks)]) {
          for (const vol of Object.values(d)) {
            const dm = /-disk-(\d+)/.exec(vol);
            if (dm) n = Math.max(n, Number(dm[1]) + 1);
          }
        }
        const opts = m[3] ?? '';
        const fmt = /(^|,)format=(\w+)/.exec(opts)?.[2] ?? 'qcow2';
        const file = ['dir', 'nfs', 'cifs', 'glusterfs'].includes(st.type) ? `${g.vmid}/vm-${g.vmid}-disk-${n}.${fmt}` : `vm-${g.vmid}-disk-${n}`;
        g.disks[k] = `${m[1]}:${file}${opts.replace(/(^|,)format=\w+/, '')},size=${m[2]}G`;
      } else g.disks[k] = value;
    } else if (k === 'name' || k === 'hostname') g.name = value;
    else if (k === 'tags') g.tags = value.split(/[;,\s]+/).filter(Boolean);
    else if (k === 'agent') g.agent = value;
    else if (k === 'lock') g.lock = value;
    else g.config[k] = v;
  }
  for (const k of deletes) {
    delete g.disks[k];
    delete g.config[k];
    if (k === 'tags') g.tags = [];
    if (k === 'agent') g.agent = undefined;
    if (k === 'lock') g.lock = undefined;
  }
  model.touch(g);
}
