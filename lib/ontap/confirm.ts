// Asking before a destructive step: on a terminal the question is shown and only "yes"
// goes on; without a terminal (cron, scripts) --yes must say it up front.
import readline from 'node:readline';
import { AppError, UsageError } from '../cli/errors.ts';
import type { Ctx } from './context.ts';

export async function confirm(ctx: Ctx, warning: string, action: string): Promise<void> {
  if (ctx.args.yes) return;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new UsageError(`${warning}; add --yes to ${action} without a terminal`);
  }
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  const answer = await new Promise<string>((resolve) => rl.question(`${warning}.\nType 'yes' to ${action}: `, resolve));
  rl.close();
  if (answer.trim().toLowerCase() !== 'yes') throw new AppError(`not confirmed; nothing was changed`);
}
