// Help texts. The bash completion reads the options from here (`--help` output), so every
// option an action accepts must appear in its text.
import { globalHelp } from '../../cli/help.ts';

export const ACTIONS = ['list', 'create', 'rollback', 'delete', 'config', 'describe'] as const;
export type Action = (typeof ACTIONS)[number];

// the block every tool of the bundle prints, from the table the parser uses
const GLOBAL = globalHelp();

const ACTION_HELP: Record<Action, string> = {
  list: `pve-snapshot list <guest|selector> [--older-than AGE] [-o text|json|jsonpretty|markdown|html]
  The snapshot tree of each guest, as 'qm listsnapshot' draws it: children under their
  parent, 'current' marks where the guest is now; local time, RAM mark, description.
  --older-than AGE     only snapshots older than AGE (30d, 12h, 90m, 2w)
  JSON: one object per snapshot {vmid, node, type, guest, name, snaptime, parent, description, vmstate}.`,
  create: `pve-snapshot create <guest|selector> <name> [--vmstate] [--description TEXT] [--only-running]
  Take a snapshot named <name> of each guest and wait for each task.
  --vmstate            also save the RAM of a running VM (not for containers)
  --description TEXT   the snapshot's description
  --only-running       skip guests that are not running
  --dry-run            say what would be created, change nothing
  Names: a letter, then letters, digits, '-' or '_'; 2 to 40 characters; not 'current',
  not 'pending' (VMs), not 'vzdump' (containers).`,
  rollback: `pve-snapshot rollback <guest> <name> [--start] [--yes]
  Roll the guest back to <name>. The guest is stopped first and everything since the
  snapshot is lost. On a terminal it says what will happen and asks; otherwise --yes is
  required. A selector is refused unless --yes. Storage that keeps a linear history (ZFS)
  cannot roll back past newer snapshots: the tool says so before touching anything.
  --start              start the guest after the rollback
  -y, --yes            do not ask
  --dry-run            explain what would happen, change nothing`,
  delete: `pve-snapshot delete <guest|selector> <name> [--force]
pve-snapshot delete <guest|selector> [--older-than AGE] [--match GLOB] [--dry-run] [--yes]
  Delete the snapshot <name>, or clean up every snapshot older than AGE and/or whose name
  matches GLOB ('pre-*', '?', '[a-z]'). A clean-up lists what it would delete: on a
  terminal it asks, otherwise it needs --yes (or --dry-run to only list). 'current',
  replication snapshots ('__replicate_*') and a container's 'vzdump' are never touched.
  --force              remove from the config even if removing a disk snapshot fails;
                       also finishes a half-deleted snapshot (snapstate=delete): as
                       root@pam (pvesh on a node) it first clears the VM's leftover
                       lock snapshot-delete; otherwise it names 'qm/pct unlock'
  --older-than AGE     clean-up: snapshots older than AGE (30d, 12h, 2w)
  --match GLOB         clean-up: snapshot names matching GLOB
  --dry-run            say what would be deleted, change nothing
  -y, --yes            clean-up: do not ask`,
  config: `pve-snapshot config <guest> <name> [-o json|jsonpretty]
  The guest configuration saved in the snapshot, as 'qm config' prints it (sorted key: value).`,
  describe: `pve-snapshot describe <guest> <name> <text>
  Set the description of a snapshot.
  --dry-run            change nothing`,
};

export function mainHelp(): string {
  return `pve-snapshot: manual snapshots of any VM or container in a Proxmox VE cluster

Usage: pve-snapshot [global options] <action> <guest|selector> [arguments] [options]

A guest is a vmid or a name; its node and type are found through /cluster/resources.
A selector works on many guests, one result line each: 100,101  100:110  @all
@all-<node>  @pool-<pool>  @tag-<tag>  %part%  and exclusions like @all,-105,-@tag-test.

Actions:
${ACTIONS.flatMap((a) => ACTION_HELP[a].split('\n').filter((l) => l.startsWith('pve-snapshot ')).map((l) => l.replace(/^pve-snapshot /, '  '))).join('\n')}

Run 'pve-snapshot <action> --help' for the options of an action.

${GLOBAL}

Exit codes: 0 done, 1 some guest failed (the others went on), 2 usage or config error,
3 cluster unreachable or authentication failed.
`;
}

export function actionHelp(action: Action): string {
  return `Usage: ${ACTION_HELP[action]}\n\n${GLOBAL}\n`;
}
