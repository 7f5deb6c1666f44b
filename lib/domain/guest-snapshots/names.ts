// The one snapshot name check, before any call: a new name as Proxmox accepts it (Proxmox
// would otherwise start a task only to fail it, or answer a 400 per guest), and the name
// of a snapshot that should exist already. Both rest on the formats the request path
// builder enforces (lib/clients/pve/path.ts: pve-configid, at most 40 characters, and
// storage replication's own names), so a name that passes here can always be sent.
import { isConfigId, isSnapshotName, SNAPSHOT_NAME_MAX } from '../../clients/pve/path.ts';
import type { GuestType } from '../guests/types.ts';
import { escapeLine } from '../../core/escape.ts';

// The name as typed, escaped: a newline in it would otherwise end the one error line there
// (the error frame keeps the first line only) and the message would name another string.
const shown = (name: string) => escapeLine(name);

/**
 * The checks that do not depend on the guest type; returns the problem or undefined.
 * `current` is the pseudo-entry every snapshot list ends with, reserved for both types.
 */
export function nameProblem(name: string): string | undefined {
  if (name === '') return 'snapshot name is empty';
  if (name.length > SNAPSHOT_NAME_MAX) return `snapshot name '${shown(name)}' is ${name.length} characters long (at most ${SNAPSHOT_NAME_MAX})`;
  // pve-configid: a letter, then at least one more character
  if (name.length < 2) return `snapshot name '${shown(name)}' is too short (at least 2 characters)`;
  if (!isConfigId(name)) return `invalid snapshot name '${shown(name)}' (a letter first, then letters, digits, '-' or '_')`;
  if (name === 'current') return "unable to use snapshot name 'current' (reserved name)";
  return undefined;
}

/** The type-specific reserved names: `pending` for VMs (any case), `vzdump` for containers. */
export function nameProblemFor(name: string, type: GuestType): string | undefined {
  const general = nameProblem(name);
  if (general) return general;
  if (type === 'qemu' && name.toLowerCase() === 'pending') return `unable to use snapshot name '${shown(name)}' (reserved name for VMs)`;
  if (type === 'lxc' && name === 'vzdump') return "unable to use snapshot name 'vzdump' (reserved name for containers: vzdump uses it)";
  return undefined;
}

/**
 * A snapshot that should exist already (delete, rollback, config, describe): any name
 * PVE could have made, replication snapshots (`__replicate_...`) included, never
 * `current`, and never anything the path builder would refuse to send.
 */
export function existingNameProblem(name: string): string | undefined {
  if (name === 'current') return "'current' is not a snapshot: it is the guest's present state";
  if (!isSnapshotName(name)) return `invalid snapshot name '${shown(name)}'`;
  return undefined;
}
