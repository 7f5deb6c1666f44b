// Entry of the ontap-sim tool: the simulated ONTAP cluster lives in lib/sim/ontap.
import { simMain } from '../lib/sim/ontap/server.ts';

export async function main(argv: string[]): Promise<number> {
  return simMain(argv);
}
