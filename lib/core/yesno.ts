// Yes/no values, read the same way from the command line, the config files, the
// environment and the guest configs PVE returns. The words are Proxmox's own:
// pve-common's PVE::JSONSchema::parse_boolean (src/PVE/JSONSchema.pm) takes
// 1|on|yes|true and 0|off|no|false in any case, so a value an admin copies from a PVE
// config (`enabled=on`, `onboot: 1`) means here what it means there.
import { UsageError } from './errors.ts';

const YES = new Set(['1', 'yes', 'true', 'on']);
const NO = new Set(['0', 'no', 'false', 'off']);

/** true / false for a yes/no word (blanks around it and case ignored); undefined for anything else. */
export function yesNo(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (YES.has(v)) return true;
  if (NO.has(v)) return false;
  return undefined;
}

/** A yes/no value an admin gave: anything but the words is refused, naming where it came from. */
export function parseYesNo(value: string, what: string): boolean {
  const b = yesNo(value);
  if (b === undefined) throw new UsageError(`${what}: '${value}' is not yes or no (also accepted: on/off, true/false, 1/0)`);
  return b;
}
