// Entry of the ontap-snapshot tool; the work lives in lib/tools/ontap-snapshot/.
import { ontapMain } from '../lib/tools/ontap-snapshot/main.ts';

export async function main(argv: string[]): Promise<number> {
  return ontapMain(argv);
}
