// The ontap-snapshot command line: `vm create|list|delete|snapshots` and
// `storage create|list|delete|restore|mount|unmount|show`. The original tool's
// single-dash options (-vm, -storage, -snapshot, -suspend, -shutdown) still work.
import { parseArgs } from '../../cli/args.ts';
import { globalHelp } from '../../cli/help.ts';
import { UsageError } from '../../core/errors.ts';
import { setLogLevel, type Level } from '../../core/log.ts';
import { parseFormat } from '../../core/output.ts';
import { POLICY_OPTIONS } from '../../domain/retention/policy.ts';
import { VERSION } from '../../core/version.ts';
import { writeOut } from '../../core/stdio.ts';
import { makeContext } from './context.ts';
import { storageCommand } from './storage.ts';
import { vmCommand } from './vm.ts';

export const HELP = `usage: ontap-snapshot vm create --vm ID [--suspend | --shutdown]
       ontap-snapshot vm list --vm ID
       ontap-snapshot vm delete --vm ID --clone NAME
       ontap-snapshot vm snapshots --vm ID [--storage ID]... [--snapshot NAME]
       ontap-snapshot storage create|list|delete|restore|mount|unmount|show --storage ID [--snapshot NAME] [--yes]
       ontap-snapshot storage snap --storage ID --label L --keep-daily N ... [--dry-run]

NetApp ONTAP snapshots and clones for Proxmox NFS storages.
  vm create        file-clone every disk of the VM on ONTAP-backed NFS storages
                   (--suspend: suspend to disk first, --shutdown: shut down first;
                   the VM is started again afterwards)
  vm list/delete   the clones made for a VM
  vm snapshots     the volume snapshots whose manifest lists the guest (also one
                   Proxmox no longer has, or whose disks moved), searched on
                   --storage or on every ONTAP-backed NFS storage: the guest's
                   config as recorded then (-o json) and where its disk files are
                   inside .snapshot/<name>/, checked; REST only (over ZAPI
                   snapshots carry no manifest)
  storage create   snapshot the volume behind the storage (--snapshot NAME, default
                   proxmox_snapshot_<UTC time>); several --storage: one snapshot at
                   one instant through a consistency group holding their volumes,
                   else one after another with a warning; over REST a manifest
                   (.autosnap-manifest.json: the guests on the volume and their
                   configs) is written into the volume first; --freeze: the
                   running VMs' file systems are frozen through the QEMU guest
                   agent for the snapshot and always thawed afterwards
  storage list     its snapshots, and the FlexClones holding them
  storage delete   delete a snapshot (--snapshot)
  storage restore  restore the volume to a snapshot: loses newer data (asks, or --yes)
  storage mount    FlexClone a snapshot and add it as storage <ID>-CLONE-<snapshot>
  storage unmount  remove such a storage and its FlexClone
  storage show     the volume, SVM and junction behind the storage; with
                   --snapshot, that snapshot and the guests its manifest lists
  storage snap     scheduled mode: snapshot ontap_<label>_<UTC time>, then remove
                   this label's snapshots the policy no longer keeps (--keep N,
                   --keep-last/hourly/daily/weekly/monthly/yearly N, --tiers SPEC);
                   only snapshots this tool made for the label are ever removed;
                   --freeze as for create

ontap-snapshot options:
  --ontap-config FILE  ONTAP settings (the original config.ini layout works too);
                       -config FILE as the original took it is --config; without
                       either and without a bundle config, ./config.ini is read
  --loglevel LEVEL     debug, info, warning or error (the original's -loglevel)
  -y, --yes            do not ask (storage restore, delete, unmount)
  --force-running      storage restore: go on although guests on it run
  --update-snapmirror  storage restore: update the volume's SnapMirror
                       relationships afterwards
  --snapmirror-label L, --expiry DUR
                       storage create: label for SnapMirror policies, and a time
                       before which ONTAP refuses to delete the snapshot

${globalHelp()}

See docs/ontap-snapshot.md.`;

const SPEC = {
  // vmid: another spelling of --vm (it used to come with the global options)
  string: ['vm', 'vmid', 'storage', 'snapshot', 'clone', 'ontap-config', 'loglevel', 'snapmirror-label', 'expiry', 'label', ...POLICY_OPTIONS.string],
  boolean: ['suspend', 'shutdown', 'yes', 'force-running', 'update-snapmirror', 'freeze'],
  alias: { y: 'yes' },
  // storage create takes several (one snapshot at one instant across their volumes)
  multi: ['storage'],
};

/** The original tool took -vm, -storage, -config, -loglevel ... with one dash. */
export function legacyDashes(argv: string[]): string[] {
  return argv.map((a) => (/^-(vm|storage|snapshot|suspend|shutdown|clone|config|loglevel)(=.*)?$/.test(a) ? `-${a}` : a));
}

/** The original's -loglevel took Python's level names; ours are four. */
export function parseLogLevel(value: string): Level {
  const v = value.trim().toLowerCase();
  const map: Record<string, Level> = { debug: 'debug', info: 'info', warning: 'warn', warn: 'warn', error: 'error', critical: 'error' };
  const level = map[v];
  if (!level) throw new UsageError(`--loglevel: '${value}' is not debug, info, warning or error`);
  return level;
}

export async function ontapMain(argv: string[]): Promise<number> {
  const args = parseArgs(legacyDashes(argv), SPEC);
  if (args.debug) setLogLevel('debug');
  else if (args.quiet) setLogLevel('warn');
  else if (typeof args.loglevel === 'string' && args.loglevel) setLogLevel(parseLogLevel(args.loglevel));
  if (args.version) {
    writeOut(`ontap-snapshot ${VERSION}\n`);
    return 0;
  }
  if (args.help || args._.length === 0) {
    writeOut(HELP + '\n');
    return args.help ? 0 : 2;
  }
  const [area, cmd, ...rest] = args._.map(String);
  if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
  if (area !== 'vm' && area !== 'storage') throw new UsageError(`unknown command '${area}' (expected vm or storage)`);
  if (!cmd) throw new UsageError(`${area}: which command? (${area === 'vm' ? 'create, list, delete, snapshots' : 'create, list, delete, restore, mount, unmount, show, snap'})`);
  const format = parseFormat(args.output);
  const ctx = makeContext(args, format);
  try {
    return area === 'vm' ? await vmCommand(ctx, cmd) : await storageCommand(ctx, cmd);
  } finally {
    await ctx.close();
  }
}
