// Entry of the sim-pvesh tool (a pvesh stand-in that talks to the simulator); the work
// lives in lib/sim/pve.
import { pveshMain } from '../lib/sim/pve/pvesh.ts';

export async function main(argv: string[]): Promise<number> {
  return pveshMain(argv);
}
