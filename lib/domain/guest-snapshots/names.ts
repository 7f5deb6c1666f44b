// Snapshot names as Proxmox accepts them, checked here so a bad name fails before any call
// (Proxmox would otherwise start a task only to fail it, or answer a 400 per guest).

export type GuestType = 'qemu' | 'lxc';

/** Proxmox's `pve-configid` format, used for snapshot names. */
const NAME_RE = /^[A-Za-z][A-Za-z0-9_-]+$/;
export const NAME_MIN = 2;
export const NAME_MAX = 40;

/**
 * The checks that do not depend on the guest type; returns the problem or undefined.
 * `current` is the pseudo-entry every snapshot list ends with, reserved for both types.
 */
export function nameProblem(name: string): string | undefined {
  if (name === '') return 'snapshot name is empty';
  if (name.length > NAME_MAX) return `snapshot name '${name}' is ${name.length} characters long (at most ${NAME_MAX})`;
  if (name.length < NAME_MIN) return `snapshot name '${name}' is too short (at least ${NAME_MIN} characters)`;
  if (!NAME_RE.test(name)) {
    return `invalid snapshot name '${name}' (a letter first, then letters, digits, '-' or '_')`;
  }
  if (name === 'current') return "unable to use snapshot name 'current' (reserved name)";
  return undefined;
}

/** The type-specific reserved names: `pending` for VMs (any case), `vzdump` for containers. */
export function nameProblemFor(name: string, type: GuestType): string | undefined {
  const general = nameProblem(name);
  if (general) return general;
  if (type === 'qemu' && name.toLowerCase() === 'pending') return `unable to use snapshot name '${name}' (reserved name for VMs)`;
  if (type === 'lxc' && name === 'vzdump') return "unable to use snapshot name 'vzdump' (reserved name for containers: vzdump uses it)";
  return undefined;
}
