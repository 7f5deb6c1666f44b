// UPIDs exactly as PVE::Tools / RESTEnvironment write and parse them.

export interface Upid {
  node: string;
  pid: number;
  pstart: number;
  /** unix seconds */
  starttime: number;
  type: string;
  id: string;
  user: string;
}

const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, '0');

export function formatUpid(u: Upid): string {
  return `UPID:${u.node}:${hex(u.pid, 8)}:${hex(u.pstart, 8)}:${hex(u.starttime, 8)}:${u.type}:${u.id}:${u.user}:`;
}

// the regex of PVE::Tools::upid_decode
const UPID_RE = /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$/;

export function parseUpid(text: string): Upid | undefined {
  const m = UPID_RE.exec(text);
  if (!m) return undefined;
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
