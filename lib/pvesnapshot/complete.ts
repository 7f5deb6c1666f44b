// The hidden `__complete` action behind the bash completion: it lists guests and the
// snapshots of a guest, straight from the cluster. It must be quick and quiet: a short
// request timeout, no log lines, no prompts; on any failure it prints nothing.
import { parseArgs } from '../cli/args.ts';
import { loadConfig } from '../cli/config.ts';
import { connect } from '../cli/connect.ts';
import { setLogSink } from '../cli/log.ts';
import { print } from '../cli/output.ts';
import { guestsFromResources, resolveGuests } from '../guests/inventory.ts';
import type { ClusterVm, SnapshotEntry } from '../pve/types.ts';
import { ACTIONS } from './help.ts';

/** `__complete actions | guests | snapshots <guest>` plus any global (connection) options. */
export async function completeMain(argv: string[]): Promise<number> {
  setLogSink(() => {});
  try {
    const args = parseArgs(argv, {});
    const [what, guest] = args._.map(String);
    if (what === 'actions') {
      print(ACTIONS.join('\n') + '\n');
      return 0;
    }
    if (what !== 'guests' && what !== 'snapshots') return 2;
    if (args.timeout === undefined) args.timeout = '3';
    const client = await connect(args, loadConfig({ config: args.config }));
    try {
      if (what === 'guests') {
        const guests = guestsFromResources((await client.get<ClusterVm[]>('/cluster/resources', { type: 'vm' })) ?? []);
        const words = new Set<string>();
        for (const g of guests) words.add(String(g.vmid));
        for (const g of guests) if (g.name) words.add(g.name);
        print([...words].join('\n') + (words.size ? '\n' : ''));
        return 0;
      }
      if (!guest) return 2;
      const [g] = await resolveGuests(client, guest, { includeTemplates: true });
      const list = (await client.get<SnapshotEntry[]>(`/nodes/${encodeURIComponent(g.node)}/${g.type}/${g.vmid}/snapshot`)) ?? [];
      const names = list.map((e) => e.name).filter((n) => n !== 'current');
      print(names.join('\n') + (names.length ? '\n' : ''));
      return 0;
    } finally {
      await client.close();
    }
  } catch {
    return 1;
  }
}
