// The hidden `__complete` action behind the bash completion: it lists guests and the
// snapshots of a guest, straight from the cluster. It must be quick and quiet: a short
// request timeout, no log lines, no prompts; on any failure it prints nothing.
import { parseArgs } from '../../cli/args.ts';
import { loadConfig } from '../../core/config.ts';
import { connect } from '../../cli/connect.ts';
import { setLogSink } from '../../core/log.ts';
import { print, printLines } from '../../core/output.ts';
import { guestsFromResources, resolveGuests, type GuestInfo } from '../../domain/guests/inventory.ts';
import type { ClusterVm } from '../../clients/pve/types.ts';
import { snapshotOps } from '../../domain/guest-snapshots/ops.ts';
import { ACTIONS } from './help.ts';

/** vmids, then names; with selectors also @all, @all-<node>, @pool-<pool>, @tag-<tag>. */
export function completionWords(guests: GuestInfo[], selectors: boolean): string[] {
  const words = new Set<string>();
  for (const g of guests) words.add(String(g.vmid));
  for (const g of guests) if (g.name) words.add(g.name);
  if (selectors) {
    words.add('@all');
    for (const n of [...new Set(guests.map((g) => g.node))].sort()) words.add(`@all-${n}`);
    for (const p of [...new Set(guests.flatMap((g) => (g.pool ? [g.pool] : [])))].sort()) words.add(`@pool-${p}`);
    for (const t of [...new Set(guests.flatMap((g) => g.tags.map((x) => x.toLowerCase())))].sort()) words.add(`@tag-${t}`);
  }
  return [...words];
}

/** `__complete actions | guests | selectors | storages | snapshots <guest>` plus any global (connection) options. */
export async function completeMain(argv: string[]): Promise<number> {
  setLogSink(() => {});
  try {
    const args = parseArgs(argv, {});
    const [what, guest] = args._.map(String);
    if (what === 'actions') {
      print(ACTIONS.join('\n') + '\n');
      return 0;
    }
    if (!['guests', 'selectors', 'snapshots', 'storages'].includes(what)) return 2;
    if (args.timeout === undefined) args.timeout = '3';
    const client = await connect(args, loadConfig({ config: args.config }));
    try {
      if (what === 'guests' || what === 'selectors') {
        const guests = guestsFromResources((await client.get<ClusterVm[]>('/cluster/resources', { type: 'vm' })) ?? []);
        printLines(completionWords(guests, what === 'selectors'));
        return 0;
      }
      if (what === 'storages') {
        const list = (await client.get<{ storage: string }[]>('/storage')) ?? [];
        printLines(list.map((s) => s.storage).sort());
        return 0;
      }
      if (!guest) return 2;
      const [g] = await resolveGuests(client, guest, { includeTemplates: true });
      // the engine's list: no `current`, no name PVE could not have made
      printLines((await snapshotOps(client).list(g)).snapshots.map((e) => e.name));
      return 0;
    } finally {
      await client.close();
    }
  } catch {
    return 1;
  }
}
