// autosnap called through a link named cv4pve-autosnap: the same tool, answering where
// scripts written for cv4pve-autosnap 2.x read it. `status` prints cv4pve's table and
// JSON (lib/tools/autosnap/cv4pve.ts), and every error exits 1, as cv4pve's do (its Program.cs
// returns 1 for a parse error and its commands `? 0 : 1`; Corsinvest/cv4pve-autosnap
// src/Corsinvest.ProxmoxVE.AutoSnap/Commands.cs).
import { autosnapMain } from '../lib/tools/autosnap/main.ts';
import { runMain } from '../lib/cli/run.ts';

export async function main(argv: string[]): Promise<number> {
  const code = await runMain('cv4pve-autosnap', (a) => autosnapMain(a, { cv4pve: true }), argv);
  return code === 0 ? 0 : 1;
}
