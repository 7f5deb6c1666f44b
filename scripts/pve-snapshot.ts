// Entry of the pve-snapshot tool; the work lives in lib/.
import { UsageError } from '../lib/cli/errors.ts';

export async function main(_argv: string[]): Promise<number> {
  throw new UsageError('pve-snapshot: not built yet');
}
