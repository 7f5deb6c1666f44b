// describe <guest> <name> <text>: set a snapshot's description.
import { UsageError } from '../../../core/errors.ts';
import type { GuestInfo } from '../../../domain/guests/inventory.ts';
import { existingNameProblem, resolve, withClient, type Ctx } from '../frame.ts';
import { finish, printPlan, runStep, type Step } from '../plan.ts';
import { runPlan } from '../runner.ts';

/** One step: the description is set as given (Proxmox checks the snapshot exists). */
export function planDescribe(f: { guest: GuestInfo; name: string; text: string }): Step[] {
  return [runStep(f.guest, 'describe', f.name, `set the description of '${f.name}'`, { text: f.text, done: `description of '${f.name}' set` })];
}

export async function describeAction(ctx: Ctx, target: string, name: string, text: string): Promise<number> {
  const problem = existingNameProblem(name);
  if (problem) throw new UsageError(problem);
  return withClient(ctx, target, async (client) => {
    const [guest] = await resolve(client, target, { single: true });
    const steps = planDescribe({ guest, name, text });
    if (ctx.dryRun) return printPlan(ctx, steps);
    return finish(ctx, await runPlan(ctx, client, steps));
  });
}
