// Asking before a destructive step, by the policy of lib/cli/confirm.ts (the same words
// and --yes as every tool); a no ends the command with exit 1.
import { confirm as ask, requireConfirmable } from '../../cli/confirm.ts';
import { AppError } from '../../core/errors.ts';
import { stderrLine } from '../../core/log.ts';
import type { Ctx } from './context.ts';

export async function confirm(ctx: Ctx, warning: string, action: string): Promise<void> {
  if (ctx.args.yes) return;
  requireConfirmable({ yes: false }, warning, action);
  stderrLine(`${warning}.`);
  if (!(await ask(action))) throw new AppError('not confirmed; nothing was changed');
}
