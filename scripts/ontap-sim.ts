// Entry of the ontap-sim tool; the work lives in lib/.
import { UsageError } from '../lib/cli/errors.ts';

export async function main(_argv: string[]): Promise<number> {
  throw new UsageError('ontap-sim: not built yet');
}
