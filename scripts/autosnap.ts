// Entry of the autosnap tool; the work lives in lib/tools/autosnap/.
import { autosnapMain } from '../lib/tools/autosnap/main.ts';

export function main(argv: string[]): Promise<number> {
  return autosnapMain(argv);
}
