// A guest as the tools see it: what the inventory reads from /cluster/resources and the
// selector filters on. Its own module so the selector (pure) and the inventory (which
// calls the API) need not import each other.
export type GuestType = 'qemu' | 'lxc';

/**
 * The one way to name a guest for a request: its node, its type and its vmid. Every
 * snapshot call, lock check and advice line takes this (or a GuestInfo, which is one).
 */
export interface GuestRef {
  node: string;
  type: GuestType;
  vmid: number;
}

export interface GuestInfo extends GuestRef {
  name: string;
  status: string;
  template: boolean;
  lock?: string;
  tags: string[];
  pool?: string;
}

/** How a guest's lines begin: `100 web1`. Exported so a reader can tell the tag from the message. */
export const guestTag = (g: { vmid: number; name?: string }) => `${g.vmid}${g.name ? ` ${g.name}` : ''}`;
