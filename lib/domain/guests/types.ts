// A guest as the tools see it: what the inventory reads from /cluster/resources and the
// selector filters on. Its own module so the selector (pure) and the inventory (which
// calls the API) need not import each other.
export interface GuestInfo {
  vmid: number;
  node: string;
  type: 'qemu' | 'lxc';
  name: string;
  status: string;
  template: boolean;
  lock?: string;
  tags: string[];
  pool?: string;
}
