// Entry of the autosnap tool; the work lives in lib/autosnap/.
import { autosnapMain } from '../lib/autosnap/main.ts';

export function main(argv: string[]): Promise<number> {
  return autosnapMain(argv);
}
