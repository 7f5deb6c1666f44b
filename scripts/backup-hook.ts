// Entry of the backup-hook tool (vzdump's script:); the work lives in lib/backup/.
import { hookMain } from '../lib/backup/hook.ts';

export async function main(argv: string[]): Promise<number> {
  return hookMain(argv);
}
