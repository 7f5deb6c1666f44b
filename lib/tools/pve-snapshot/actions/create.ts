// create <guest|selector> <name>: one snapshot of each guest. Nothing needs reading but
// the guest list: the plan follows from the guests and the options.
import { UsageError } from '../../../core/errors.ts';
import { warn } from '../../../core/log.ts';
import { nameProblem, nameProblemFor } from '../../../domain/guest-snapshots/names.ts';
import { namedTemplates, type GuestInfo } from '../../../domain/guests/inventory.ts';
import { parseSelector } from '../../../domain/guests/selector.ts';
import { isSingleGuest, label, resolve, withClient, type Ctx } from '../frame.ts';
import { finish, printPlan, refuseStep, runStep, skipStep, type Step } from '../plan.ts';
import { runPlan } from '../runner.ts';

export interface CreateFacts {
  guests: GuestInfo[];
  name: string;
  vmstate: boolean;
  description?: string;
  onlyRunning: boolean;
}

/** One step per guest: refused for a name or option its type does not take, skipped when not running under --only-running. */
export function planCreate(f: CreateFacts): Step[] {
  return f.guests.map((g) => {
    const refuse = (why: string) => refuseStep(g, 'create', f.name, why);
    const p = nameProblemFor(f.name, g.type);
    if (p) return refuse(p);
    if (f.vmstate && g.type === 'lxc') return refuse("--vmstate saves a VM's RAM; containers have no RAM snapshot");
    if (g.template) return refuse('is a template; Proxmox takes no snapshots of templates');
    if (f.onlyRunning && g.status !== 'running') return skipStep(g, 'create', f.name, `${g.status}, skipped (--only-running)`);
    const ram = f.vmstate && g.status === 'running' ? ' with RAM' : '';
    return runStep(g, 'create', f.name, `create snapshot '${f.name}'${ram} on ${g.node}`, {
      vmstate: f.vmstate,
      description: f.description,
      done: `created snapshot '${f.name}'${ram} on ${g.node}`,
    });
  });
}

/**
 * A template reached through @all, a pool or a tag is left out quietly; one named by vmid
 * or name in a selector was asked for, so it gets its line.
 */
function withoutTemplates(target: string, guests: GuestInfo[]): GuestInfo[] {
  const named = new Set(namedTemplates(parseSelector(target), guests).map((g) => g.vmid));
  for (const g of guests) if (g.template && named.has(g.vmid)) warn(`${label(g)}: skipped: template (Proxmox takes no snapshots of templates)`);
  const left = guests.filter((g) => !g.template);
  if (!left.length) throw new UsageError(`selector '${target}' matched only templates, which cannot have new snapshots`);
  return left;
}

export async function createAction(ctx: Ctx, target: string, name: string): Promise<number> {
  const problem = nameProblem(name);
  if (problem) throw new UsageError(problem);
  const single = isSingleGuest(target);
  const vmstate = ctx.args.vmstate === true;
  const description = ctx.args.description === undefined ? undefined : String(ctx.args.description);
  return withClient(ctx, target, async (client) => {
    let guests = await resolve(client, target, { single });
    if (!single) guests = withoutTemplates(target, guests);
    // the one guest named: a type-specific reserved name or --vmstate on a container is a usage error, before any write
    for (const g of single ? guests : []) {
      const p = nameProblemFor(name, g.type);
      if (p) throw new UsageError(`${label(g)}: ${p}`);
      if (vmstate && g.type === 'lxc') throw new UsageError(`${label(g)}: --vmstate saves a VM's RAM; containers have no RAM snapshot`);
    }
    const steps = planCreate({ guests, name, vmstate, description, onlyRunning: ctx.args['only-running'] === true });
    if (ctx.dryRun) return printPlan(ctx, steps);
    return finish(ctx, await runPlan(ctx, client, steps));
  });
}
