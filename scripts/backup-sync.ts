// Entry of the backup-sync tool; the work lives in lib/tools/backup/ (the protocol in lib/domain/backup/).
import { syncMain } from '../lib/tools/backup/sync.ts';

export async function main(argv: string[]): Promise<number> {
  return syncMain(argv);
}
