// Entry of the autosnap tool; the work lives in lib/.
import { UsageError } from '../lib/cli/errors.ts';

export async function main(_argv: string[]): Promise<number> {
  throw new UsageError('autosnap: not built yet');
}
