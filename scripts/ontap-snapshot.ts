// Entry of the ontap-snapshot tool; the work lives in lib/ontap.
import { ontapMain } from '../lib/ontap/cli.ts';

export async function main(argv: string[]): Promise<number> {
  return ontapMain(argv);
}
