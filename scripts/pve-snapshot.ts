// Entry of the pve-snapshot tool; the work lives in lib/pvesnapshot.
import { pveSnapshotMain } from '../lib/pvesnapshot/cli.ts';

export async function main(argv: string[]): Promise<number> {
  return pveSnapshotMain(argv);
}
