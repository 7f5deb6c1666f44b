// Task identifiers: UPID:<node>:<pid 8 hex>:<pstart 8-9 hex>:<starttime 8 hex>:<type>:<id>:<user>:
import { AppError } from '../../core/errors.ts';

export interface Upid {
  node: string;
  pid: number;
  pstart: number;
  /** unix seconds */
  starttime: number;
  type: string;
  /** the object the task works on (the vmid for snapshot tasks); may be empty */
  id: string;
  user: string;
}

// The user part may contain colons only in theory (realm names cannot), so the fixed
// fields are matched from the left and the remainder up to the trailing colon is the user.
const RE = /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:]+):([^:]*):([^:]+):$/;

export function parseUpid(text: string): Upid {
  const m = RE.exec(String(text).trim());
  if (!m) throw new AppError(`unable to parse task id '${text}'`);
  return {
    node: m[1],
    pid: parseInt(m[3], 16),
    pstart: parseInt(m[4], 16),
    starttime: parseInt(m[5], 16),
    type: m[6],
    id: m[7],
    user: m[8],
  };
}

export function isUpid(text: unknown): text is string {
  return typeof text === 'string' && RE.test(text.trim());
}

const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, '0');

export function formatUpid(u: Upid): string {
  return `UPID:${u.node}:${hex(u.pid, 8)}:${hex(u.pstart, 8)}:${hex(u.starttime, 8)}:${u.type}:${u.id}:${u.user}:`;
}
