// Asking before a destructive step: on a terminal the question is shown and only the
// typed word "yes" goes on (a stray y or Enter must not restore a volume); without a
// terminal (cron, scripts) --yes must say it up front.
import { confirm as ask, interactive } from '../../cli/confirm.ts';
import { AppError, UsageError } from '../../core/errors.ts';
import type { Ctx } from './context.ts';

export async function confirm(ctx: Ctx, warning: string, action: string): Promise<void> {
  if (ctx.args.yes) return;
  if (!interactive()) throw new UsageError(`${warning}; add --yes to ${action} without a terminal`);
  if (!(await ask(`${warning}.\nType 'yes' to ${action}:`, { requireWord: 'yes' }))) throw new AppError('not confirmed; nothing was changed');
}
