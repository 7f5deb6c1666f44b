// Entry of the backup-wakeup tool; the work lives in lib/tools/backup/ (the protocol in lib/domain/backup/).
import { wakeupMain } from '../lib/tools/backup/wakeup.ts';

export async function main(argv: string[]): Promise<number> {
  return wakeupMain(argv);
}
