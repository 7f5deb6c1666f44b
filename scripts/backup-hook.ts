// Entry of the backup-hook tool (vzdump's script:); the work lives in lib/tools/backup/ (the protocol in lib/domain/backup/).
import { hookMain } from '../lib/tools/backup/hook.ts';

export async function main(argv: string[]): Promise<number> {
  return hookMain(argv);
}
