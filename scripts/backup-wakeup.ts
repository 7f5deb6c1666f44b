// Entry of the backup-wakeup tool; the work lives in lib/backup/.
import { wakeupMain } from '../lib/backup/wakeup.ts';

export async function main(argv: string[]): Promise<number> {
  return wakeupMain(argv);
}
