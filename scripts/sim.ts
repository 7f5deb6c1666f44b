// Entry of the sim tool (the Proxmox VE simulator); the work lives in lib/sim/pve.
import { simMain } from '../lib/sim/pve/cli.ts';

export async function main(argv: string[]): Promise<number> {
  return simMain(argv);
}
