// Entry of the pve-snapshot tool; the work lives in lib/tools/pve-snapshot/.
import { pveSnapshotMain } from '../lib/tools/pve-snapshot/main.ts';

export async function main(argv: string[]): Promise<number> {
  return pveSnapshotMain(argv);
}
