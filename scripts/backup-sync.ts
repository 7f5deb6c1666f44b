// Entry of the backup-sync tool; the work lives in lib/backup/.
import { syncMain } from '../lib/backup/sync.ts';

export async function main(argv: string[]): Promise<number> {
  return syncMain(argv);
}
