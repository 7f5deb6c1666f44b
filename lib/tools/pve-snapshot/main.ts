// pve-snapshot: the manual side of snapshots, for any VM or container in the cluster.
// Everything the user typed is checked before the first call; then the guests are
// resolved through /cluster/resources (one call), and each guest gets one result line.
// Nothing is deleted or rolled back that the user did not name.
import { parseArgs, intOption, type Parsed } from '../../cli/args.ts';
import { parseDuration } from '../../core/duration.ts';
import { loadConfig } from '../../core/config.ts';
import { confirm, requireConfirmable } from '../../cli/confirm.ts';
import { connect } from '../../cli/connect.ts';
import { AppError, EXIT, UsageError, errorLine } from '../../core/errors.ts';
import { debug, error, info, setLogLevel, stderrLine, warn } from '../../core/log.ts';
import { nowSeconds } from '../../core/now.ts';
import { parseFormat, print, printLines, render, type Column, type Format } from '../../core/output.ts';
import { escapeJson } from '../../core/escape.ts';
import { NoGuestError, namedTemplates, resolveGuests, type GuestInfo } from '../../domain/guests/inventory.ts';
import { parseSelector } from '../../domain/guests/selector.ts';
import { PveApiError, TaskError } from '../../clients/pve/errors.ts';
import type { PveClient, SnapshotEntry, TaskResult } from '../../clients/pve/types.ts';
import { VERSION } from '../../core/version.ts';
import * as api from '../../domain/guest-snapshots/api.ts';
import { completeMain } from './complete.ts';
import { globMatch } from './glob.ts';
import { ACTIONS, actionHelp, mainHelp, type Action } from './help.ts';
import { nameProblem, nameProblemFor } from '../../domain/guest-snapshots/names.ts';
import { assessRollback, configVolumes, type StorageInfo } from '../../domain/guest-snapshots/rollback.ts';
import * as stuck from '../../domain/guest-snapshots/stuck-advice.ts';
import * as sharedStuck from '../../domain/guest-snapshots/stuck.ts';
import { formatTime, renderTree, treeRows, descriptionOf } from './tree.ts';

const TOOL = 'pve-snapshot';

const SPEC = {
  string: ['description', 'older-than', 'match'],
  boolean: ['vmstate', 'only-running', 'start', 'yes', 'force'],
  alias: { y: 'yes' },
};

/** Options of one action besides the global ones; anything else is refused by name. */
const ACTION_OPTIONS: Record<Action, string[]> = {
  list: ['older-than'],
  create: ['vmstate', 'description', 'only-running', 'dry-run'],
  rollback: ['start', 'yes', 'dry-run'],
  delete: ['force', 'older-than', 'match', 'dry-run', 'yes'],
  config: [],
  describe: ['dry-run'],
};

/** Positional arguments after the action: [min, max]. */
const ARITY: Record<Action, [number, number]> = {
  list: [1, 1],
  create: [2, 2],
  rollback: [2, 2],
  delete: [1, 2],
  config: [2, 2],
  describe: [3, 3],
};

interface Outcome {
  guest: GuestInfo;
  status: 'ok' | 'failed' | 'skipped';
  action: string;
  snapshot?: string;
  message: string;
  upid?: string;
}

export async function pveSnapshotMain(argv: string[]): Promise<number> {
  if (argv[0] === '__complete') return completeMain(argv.slice(1));
  const args = parseArgs(argv, SPEC);
  if (args.debug) setLogLevel('debug');
  else if (args.quiet) setLogLevel('warn');
  if (args.version) {
    print(`${TOOL} ${VERSION}\n`);
    return EXIT.OK;
  }
  const [actionWord, ...rest] = args._.map(String);
  if (actionWord === 'help') {
    const a = rest[0];
    print((ACTIONS as readonly string[]).includes(a) ? actionHelp(a as Action) : mainHelp());
    return EXIT.OK;
  }
  if (!actionWord) {
    if (args.help) {
      print(mainHelp());
      return EXIT.OK;
    }
    throw new UsageError(`no action given (expected one of ${ACTIONS.join(', ')}; see --help)`);
  }
  if (!(ACTIONS as readonly string[]).includes(actionWord)) {
    throw new UsageError(`unknown action '${actionWord}' (expected one of ${ACTIONS.join(', ')})`);
  }
  const action = actionWord as Action;
  if (args.help) {
    print(actionHelp(action));
    return EXIT.OK;
  }
  checkOptions(action, args);
  const [min, max] = ARITY[action];
  if (rest.length < min || rest.length > max) {
    const what = rest.length < min ? 'missing arguments' : `unexpected argument '${rest[max]}'`;
    throw new UsageError(`${action}: ${what} (usage: ${actionHelp(action).split('\n')[0].replace(/^Usage: /, '')})`);
  }
  const format = parseFormat(args.output);
  const ctx: Ctx = { args, format, dryRun: args['dry-run'] === true, parallel: intOption(args, 'max-parallel', 4, 1, 64), tz: args.tz ? String(args.tz) : undefined };
  if (ctx.tz) checkTimeZone(ctx.tz);

  switch (action) {
    case 'list':
      return listAction(ctx, rest[0], olderThan(args));
    case 'create':
      return createAction(ctx, rest[0], rest[1]);
    case 'rollback':
      return rollbackAction(ctx, rest[0], rest[1]);
    case 'delete':
      return rest.length === 2 ? deleteNamedAction(ctx, rest[0], rest[1]) : cleanupAction(ctx, rest[0]);
    case 'config':
      return configAction(ctx, rest[0], rest[1]);
    case 'describe':
      return describeAction(ctx, rest[0], rest[1], rest[2]);
  }
}

interface Ctx {
  args: Parsed;
  format: Format;
  dryRun: boolean;
  parallel: number;
  tz?: string;
}

function checkOptions(action: Action, args: Parsed): void {
  const allowed = new Set(ACTION_OPTIONS[action]);
  for (const opt of [...SPEC.string, ...SPEC.boolean, 'dry-run']) {
    const v = args[opt];
    const given = typeof v === 'boolean' ? v : v !== undefined;
    if (given && !allowed.has(opt)) throw new UsageError(`option --${opt} does not apply to '${action}'`);
  }
}

function checkTimeZone(tz: string): void {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
  } catch {
    throw new UsageError(`--tz: unknown time zone '${tz}'`);
  }
}

function olderThan(args: Parsed): number | undefined {
  const v = args['older-than'];
  if (v === undefined) return undefined;
  return parseDuration(String(v), '--older-than');
}

// "now" (AUTOSNAP_NOW pins it for tests) is the one helper every tool shares
export { nowSeconds };

/** One vmid or one name, as opposed to a selector naming any number of guests. */
export function isSingleGuest(text: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9.\-_]*$/.test(text) && !/^\d+-\d*$/.test(text);
}

/**
 * A snapshot that should exist already (delete, rollback, config, describe). Looser than
 * the creation rules, so replication snapshots (`__replicate_...`) can be named, but
 * never `current` and never anything that could change the request path.
 */
export function existingNameProblem(name: string): string | undefined {
  if (name === 'current') return "'current' is not a snapshot: it is the guest's present state";
  if (!/^[A-Za-z0-9_][A-Za-z0-9_-]{0,39}$/.test(name)) return `invalid snapshot name '${name}'`;
  return undefined;
}

export const label = (g: GuestInfo) => (g.name ? `${g.vmid} (${g.name})` : String(g.vmid));
const kind = (g: { type: string }) => (g.type === 'lxc' ? 'CT' : 'VM');

/** The text worth showing for a failed call: the task's exit status or PVE's own message. */
export function reasonOf(err: unknown): string {
  if (err instanceof TaskError) return err.exitstatus;
  if (err instanceof PveApiError && err.status === 500 && err.pveMessage) return err.pveMessage.replace(/\s*\n\s*/g, ' ').trim();
  return errorLine(err);
}

/** Connection loss and refused authentication end the run (exit 3) instead of failing every guest alike. */
function fatal(err: unknown): boolean {
  return err instanceof AppError && err.exitCode === EXIT.UNREACHABLE;
}

/** Connect, after checking the guest or selector: a malformed one is named before any connection. */
async function open(ctx: Ctx, target?: string): Promise<PveClient> {
  if (target !== undefined) parseSelector(target);
  return connect(ctx.args, loadConfig({ config: ctx.args.config }));
}

async function resolve(client: PveClient, text: string, opts: { single?: boolean } = {}): Promise<GuestInfo[]> {
  let guests: GuestInfo[];
  try {
    guests = await resolveGuests(client, text, { includeTemplates: true });
  } catch (e) {
    if (isSingleGuest(text) && e instanceof NoGuestError) {
      throw new UsageError(`guest '${text}' not found${e.hint ? `; ${e.hint}` : ': no VM or container in the cluster has that vmid or name'}`);
    }
    throw e;
  }
  if (opts.single && guests.length > 1) {
    throw new UsageError(`'${text}' names ${guests.length} guests (${guests.map((g) => g.vmid).join(', ')}): give one vmid`);
  }
  return guests;
}

/**
 * Run `fn` for each guest, at most `limit` at once, and hand the results to `emit` in
 * guest order, as soon as every earlier guest is done, so the output reads top to bottom.
 */
async function forEachGuest<T>(guests: GuestInfo[], limit: number, fn: (g: GuestInfo) => Promise<T>, emit: (g: GuestInfo, r: T) => void): Promise<T[]> {
  const results: T[] = new Array(guests.length);
  const done: boolean[] = new Array(guests.length).fill(false);
  let next = 0;
  let emitted = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < guests.length && failure === undefined) {
      const i = next++;
      try {
        results[i] = await fn(guests[i]);
      } catch (e) {
        failure = e;
        return;
      }
      done[i] = true;
      while (emitted < guests.length && done[emitted]) {
        emit(guests[emitted], results[emitted]);
        emitted++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, guests.length) }, worker));
  if (failure !== undefined) throw failure;
  return results;
}

function outcomeOf(g: GuestInfo, action: string, snapshot: string, res: TaskResult, okText: string): Outcome {
  if (res.ok) {
    const warn = res.warnings ? ` (${res.exitstatus})` : '';
    return { guest: g, status: 'ok', action, snapshot, message: okText + warn, upid: res.upid };
  }
  return { guest: g, status: 'failed', action, snapshot, message: `${action} '${snapshot}' failed: ${res.exitstatus}`, upid: res.upid };
}

async function guarded(g: GuestInfo, action: string, snapshot: string | undefined, fn: () => Promise<Outcome>): Promise<Outcome> {
  try {
    return await fn();
  } catch (e) {
    if (fatal(e)) throw e;
    return { guest: g, status: 'failed', action, snapshot, message: `${action}${snapshot ? ` '${snapshot}'` : ''} failed: ${reasonOf(e)}` };
  }
}

/** Text: one line per guest as it is done (failures on stderr). Other formats: one table at the end. */
function emitter(ctx: Ctx): (g: GuestInfo, o: Outcome) => void {
  return (_g, o) => {
    if (o.status === 'failed') error(`${TOOL}: ${label(o.guest)}: ${o.message}`);
    else if (ctx.format === 'text') printLines([`${label(o.guest)}: ${o.message}`]);
  };
}

const OUTCOME_COLUMNS: Column<Outcome>[] = [
  { header: 'VMID', get: (o) => o.guest.vmid, align: 'right' },
  { header: 'GUEST', get: (o) => o.guest.name },
  { header: 'NODE', get: (o) => o.guest.node },
  { header: 'ACTION', get: (o) => o.action },
  { header: 'SNAPSHOT', get: (o) => o.snapshot },
  { header: 'STATUS', get: (o) => o.status },
  { header: 'MESSAGE', get: (o) => o.message },
];

function finish(ctx: Ctx, outcomes: Outcome[]): number {
  if (ctx.format !== 'text') {
    const json = outcomes.map((o) => ({
      vmid: o.guest.vmid,
      node: o.guest.node,
      type: o.guest.type,
      guest: o.guest.name,
      action: o.action,
      snapshot: o.snapshot ?? null,
      status: o.status,
      message: o.message,
      ...(o.upid ? { upid: o.upid } : {}),
    }));
    print(render(ctx.format, outcomes, OUTCOME_COLUMNS, json));
  }
  return outcomes.some((o) => o.status === 'failed') ? EXIT.FAILED : EXIT.OK;
}

// ---------------------------------------------------------------------------------- list

interface SnapshotRow {
  vmid: number;
  node: string;
  type: string;
  guest: string;
  name: string;
  snaptime: number | null;
  parent: string | null;
  description: string;
  vmstate: boolean;
  snapstate?: string;
}

async function listAction(ctx: Ctx, target: string, age: number | undefined): Promise<number> {
  const client = await open(ctx, target);
  try {
    const guests = await resolve(client, target);
    const now = nowSeconds();
    const keep = (e: SnapshotEntry) => age === undefined || (e.name !== 'current' && e.snaptime !== undefined && now - Number(e.snaptime) > age);
    const rows: SnapshotRow[] = [];
    let failed = false;
    let shown = 0;
    await forEachGuest(
      guests,
      ctx.parallel,
      async (g) => {
        try {
          return { entries: await api.listSnapshots(client, g) };
        } catch (e) {
          if (fatal(e)) throw e;
          return { error: reasonOf(e) };
        }
      },
      (g, r) => {
        if ('error' in r) {
          failed = true;
          error(`${TOOL}: ${label(g)}: cannot list snapshots: ${r.error}`);
          return;
        }
        const tree = treeRows(r.entries, keep);
        for (const t of tree) {
          if (t.entry.name === 'current') continue;
          const e = t.entry;
          const row: SnapshotRow = {
            vmid: g.vmid,
            node: g.node,
            type: g.type,
            guest: g.name,
            name: e.name,
            snaptime: e.snaptime === undefined ? null : Number(e.snaptime),
            parent: e.parent ?? null,
            description: e.description ?? '',
            vmstate: Number(e.vmstate ?? 0) === 1,
          };
          if (e.snapstate) row.snapstate = e.snapstate;
          rows.push(row);
        }
        if (ctx.format !== 'text') return;
        // with a filter, guests without a match would only be noise in a cluster-wide search
        if (age !== undefined && tree.length === 0) return;
        if (shown++) print('\n');
        printLines([`${g.vmid} ${g.name || '-'} (${g.type} on ${g.node}${g.template ? ', template' : ''})`, ...renderTree(tree, ctx.tz)]);
      },
    );
    if (ctx.format !== 'text') {
      const cols: Column<SnapshotRow>[] = [
        { header: 'VMID', get: (r) => r.vmid, align: 'right' },
        { header: 'GUEST', get: (r) => r.guest },
        { header: 'NODE', get: (r) => r.node },
        { header: 'TYPE', get: (r) => r.type },
        { header: 'SNAPSHOT', get: (r) => r.name },
        { header: 'TIME', get: (r) => formatTime(r.snaptime ?? undefined, ctx.tz) },
        { header: 'PARENT', get: (r) => r.parent },
        { header: 'RAM', get: (r) => (r.vmstate ? 'yes' : '') },
        { header: 'DESCRIPTION', get: (r) => descriptionOf({ name: r.name, description: r.description, snapstate: r.snapstate }) },
      ];
      print(render(ctx.format, rows, cols));
    } else if (age !== undefined && shown === 0 && !failed) {
      info(`no snapshot older than ${ctx.args['older-than']}`);
    }
    return failed ? EXIT.FAILED : EXIT.OK;
  } finally {
    await client.close();
  }
}

// -------------------------------------------------------------------------------- create

async function createAction(ctx: Ctx, target: string, name: string): Promise<number> {
  const problem = nameProblem(name);
  if (problem) throw new UsageError(problem);
  const single = isSingleGuest(target);
  const vmstate = ctx.args.vmstate === true;
  const description = ctx.args.description === undefined ? undefined : String(ctx.args.description);
  const client = await open(ctx, target);
  try {
    let guests = await resolve(client, target, { single });
    if (!single) {
      // a template reached through @all, a pool or a tag is left out quietly; one named by
      // vmid or name was asked for, so it gets its line
      const named = new Set(namedTemplates(parseSelector(target), guests).map((g) => g.vmid));
      for (const g of guests) if (g.template && named.has(g.vmid)) warn(`${label(g)}: skipped: template (Proxmox takes no snapshots of templates)`);
      guests = guests.filter((g) => !g.template);
      if (!guests.length) throw new UsageError(`selector '${target}' matched only templates, which cannot have new snapshots`);
    }
    // type-specific reserved names and --vmstate on a container: refused before any write
    for (const g of guests) {
      const p = nameProblemFor(name, g.type);
      if (p && single) throw new UsageError(`${label(g)}: ${p}`);
      if (vmstate && g.type === 'lxc' && single) throw new UsageError(`${label(g)}: --vmstate saves a VM's RAM; containers have no RAM snapshot`);
    }
    const outcomes = await forEachGuest(
      guests,
      ctx.parallel,
      (g) =>
        guarded(g, 'create', name, async () => {
          const p = nameProblemFor(name, g.type);
          if (p) return { guest: g, status: 'failed', action: 'create', snapshot: name, message: p };
          if (vmstate && g.type === 'lxc') return { guest: g, status: 'failed', action: 'create', snapshot: name, message: '--vmstate saves a VM\'s RAM; containers have no RAM snapshot' };
          if (g.template) return { guest: g, status: 'failed', action: 'create', snapshot: name, message: `is a template; Proxmox takes no snapshots of templates` };
          if (ctx.args['only-running'] && g.status !== 'running') return { guest: g, status: 'skipped', action: 'create', snapshot: name, message: `${g.status}, skipped (--only-running)` };
          if (ctx.dryRun) return { guest: g, status: 'skipped', action: 'create', snapshot: name, message: `would create snapshot '${name}' on ${g.node} (dry run)` };
          const ram = vmstate && g.status === 'running' ? ' with RAM' : '';
          const res = await api.createSnapshot(client, g, name, { vmstate, description });
          return outcomeOf(g, 'create', name, res, `created snapshot '${name}'${ram} on ${g.node}`);
        }),
      emitter(ctx),
    );
    return finish(ctx, outcomes);
  } finally {
    await client.close();
  }
}

// ------------------------------------------------------------------------------ rollback

interface RollbackPlan {
  guest: GuestInfo;
  problem?: string;
  explanation: string[];
}

let storagesOnce: Promise<StorageInfo[]> | undefined;
function storages(client: PveClient): Promise<StorageInfo[]> {
  // without Datastore.Audit the list is filtered, not refused; an unknown type never blocks
  storagesOnce ??= client.get<StorageInfo[]>('/storage').then((l) => l ?? []).catch((e) => {
    if (fatal(e)) throw e;
    debug(`cannot read /storage: ${errorLine(e)}`);
    return [];
  });
  return storagesOnce;
}

async function planRollback(client: PveClient, g: GuestInfo, name: string, start: boolean): Promise<RollbackPlan> {
  const entries = await api.listSnapshots(client, g);
  const target = entries.find((e) => e.name === name && e.name !== 'current');
  const fail = (problem: string): RollbackPlan => ({ guest: g, problem, explanation: [] });
  if (!target) return fail(`snapshot '${name}' does not exist`);
  if (target.snapstate) {
    return fail(`unable to rollback to incomplete snapshot (snapstate = ${target.snapstate}); finish it first with '${TOOL} delete ${g.vmid} ${name} --force'`);
  }
  if (g.template) return fail('is a template; Proxmox does not roll back templates');
  if (g.lock) return fail(await lockLine(client, g, stuck.callerOf(client)));
  let config = await api.snapshotConfig(client, g, name).catch((e) => {
    if (fatal(e)) throw e;
    return {} as Record<string, unknown>;
  });
  let volumes = configVolumes(config, g.type);
  if (!volumes.length) {
    config = await client.get<Record<string, unknown>>(api.guestPath(g, 'config')).catch(() => ({}));
    volumes = configVolumes(config ?? {}, g.type);
  }
  const a = assessRollback(target, entries, volumes, await storages(client));
  if (a.blocking.length) {
    const where = [...new Set(a.blocking.map((b) => `${b.volume.storage} (${b.type})`))].join(', ');
    return fail(
      `can't rollback, '${name}' is not the most recent snapshot on ${where}, which cannot roll back past newer snapshots (${a.newer.join(', ')}); delete them first or roll back to '${a.newer[a.newer.length - 1]}'`,
    );
  }
  const when = formatTime(target.snaptime);
  const ex: string[] = [];
  const k = kind(g);
  ex.push(`Roll back ${label(g)} on ${g.node} to snapshot '${name}'${when ? ` of ${when}` : ''}:`);
  ex.push(g.status === 'running' ? `  - the ${k} is running: it is stopped first (hard, no clean shutdown)` : `  - the ${k} is ${g.status}`);
  ex.push(`  - everything written since the snapshot is lost; the current state is not saved`);
  if (a.newer.length) {
    const st = a.storages.map((s) => `${s.storage} (${s.type})`).join(', ') || 'no disk';
    ex.push(`  - newer snapshots stay: ${a.newer.join(', ')} (storage ${st} allows rolling back past them)`);
  } else ex.push('  - it is the most recent snapshot');
  if (Number(target.vmstate ?? 0) === 1) ex.push(`  - the snapshot holds RAM: the ${k} resumes running from it`);
  else ex.push(start ? `  - the ${k} is started afterwards (--start)` : `  - the ${k} stays stopped afterwards (--start would start it)`);
  return { guest: g, explanation: ex };
}

/**
 * lockMessage, after asking the one detector (lib/domain/guest-snapshots/stuck.ts) when the lock is
 * snapshot-delete: a delete task still running is named, and nothing says to unlock.
 */
async function lockLine(client: PveClient, g: GuestInfo, caller?: string): Promise<string> {
  if (g.lock !== 'snapshot-delete') return lockMessage(g, caller);
  const st = await sharedStuck.deleteState(client, g);
  if (st.state === 'deleting') return stuck.runningLine(g, st.upid);
  if (st.state === 'unknown') return sharedStuck.unknownLine(g, st.why);
  return lockMessage(g, caller);
}

function lockMessage(g: GuestInfo, caller?: string): string {
  if (g.lock === 'snapshot-delete') return unlockHint(g, caller);
  return `${kind(g)} is locked (${g.lock}); try again when that operation has finished`;
}

/**
 * A delete that failed half way leaves the guest locked `snapshot-delete`, and Proxmox
 * refuses every snapshot operation, forced delete included, until the lock is cleared.
 * Clearing it over the API needs `skiplock`, which only root@pam may use (a VM only).
 */
export function unlockHint(g: { vmid: number; node: string; type: string }, caller?: string): string {
  const head = `${kind(g)} is locked (snapshot-delete) by a delete that did not finish`;
  if (stuck.canClearLock(g, caller)) return `${head}: '${TOOL} delete ${g.vmid} <name> --force' on the half-deleted snapshot clears the lock and finishes it`;
  return `${head}: ${stuck.wayOut(g, '<name>')} (${stuck.whyNotClear(g, caller)})`;
}

async function rollbackAction(ctx: Ctx, target: string, name: string): Promise<number> {
  const problem = existingNameProblem(name);
  if (problem) throw new UsageError(problem);
  const single = isSingleGuest(target);
  const yes = ctx.args.yes === true;
  if (!single && !yes) throw new UsageError(`rollback of the selector '${target}' rolls back every guest it matches: add --yes if you mean it`);
  requireConfirmable({ yes, dryRun: ctx.dryRun }, `rollback of ${target} asks for confirmation`, 'roll back');
  const start = ctx.args.start === true;
  const client = await open(ctx, target);
  try {
    const guests = await resolve(client, target, { single });
    if (single) {
      const g = guests[0];
      const plan = await planRollback(client, g, name, start);
      if (plan.problem) return finish(ctx, [report(ctx, { guest: g, status: 'failed', action: 'rollback', snapshot: name, message: plan.problem })]);
      for (const line of plan.explanation) stderrLine(line);
      if (ctx.dryRun) return finish(ctx, [report(ctx, { guest: g, status: 'skipped', action: 'rollback', snapshot: name, message: `would roll back to '${name}' (dry run)` })]);
      if (!yes && !(await confirm('roll back'))) {
        info('nothing done');
        return EXIT.FAILED;
      }
    }
    const outcomes = await forEachGuest(
      guests,
      ctx.parallel,
      (g) =>
        guarded(g, 'rollback', name, async () => {
          if (!single) {
            const plan = await planRollback(client, g, name, start);
            if (plan.problem) return { guest: g, status: 'failed', action: 'rollback', snapshot: name, message: plan.problem };
            if (ctx.dryRun) return { guest: g, status: 'skipped', action: 'rollback', snapshot: name, message: `would roll back to '${name}' (dry run)` };
          }
          const res = await api.rollbackSnapshot(client, g, name, start);
          return outcomeOf(g, 'rollback', name, res, `rolled back to '${name}'${start ? ' and started' : ''}`);
        }),
      emitter(ctx),
    );
    return finish(ctx, outcomes);
  } finally {
    await client.close();
  }
}

function report(ctx: Ctx, o: Outcome): Outcome {
  emitter(ctx)(o.guest, o);
  return o;
}

// -------------------------------------------------------------------------------- delete

async function deleteNamedAction(ctx: Ctx, target: string, name: string): Promise<number> {
  if (ctx.args['older-than'] !== undefined || ctx.args.match !== undefined) {
    throw new UsageError(`delete: give either a snapshot name or --older-than/--match, not both`);
  }
  if (ctx.args.yes) throw new UsageError('delete: --yes belongs to a clean-up with --older-than/--match');
  const problem = existingNameProblem(name);
  if (problem) throw new UsageError(problem);
  const single = isSingleGuest(target);
  const force = ctx.args.force === true;
  const client = await open(ctx, target);
  try {
    const caller = stuck.callerOf(client);
    const guests = await resolve(client, target, { single });
    const outcomes = await forEachGuest(
      guests,
      ctx.parallel,
      (g) =>
        guarded(g, 'delete', name, async () => {
          const o = (status: Outcome['status'], message: string): Outcome => ({ guest: g, status, action: 'delete', snapshot: name, message });
          const entries = await api.listSnapshots(client, g);
          const snap = entries.find((e) => e.name === name);
          if (!snap) return single ? o('failed', `snapshot '${name}' does not exist`) : o('skipped', `no snapshot '${name}', nothing to do`);
          const half = snap.snapstate === 'delete';
          if (g.lock === 'snapshot-delete') {
            if (!half) {
              // the lock belongs to another snapshot's delete, running or failed: never ours to clear
              const busy = await sharedStuck.deleteState(client, g);
              if (busy.state === 'deleting') return o('failed', stuck.runningLine(g, busy.upid));
              if (busy.state === 'unknown') return o('failed', sharedStuck.unknownLine(g, busy.why));
              const other = entries.find((e) => e.snapstate === 'delete');
              return o('failed', other
                ? `${kind(g)} is locked (snapshot-delete) by the unfinished delete of '${other.name}': finish that one first ('${TOOL} delete ${g.vmid} ${other.name} --force')`
                : `${kind(g)} is locked (snapshot-delete) and no snapshot is half-deleted: a delete is probably still running; try again when it has finished`);
            }
            if (!force) {
              // a delete still running looks the same; its lock must never be suggested for
              // clearing, nor when the task lists cannot be read to tell
              let busy: string[];
              try {
                busy = await stuck.runningDeletes(client, g);
              } catch (e) {
                if (fatal(e)) throw e;
                return o('failed', sharedStuck.unknownLine(g, reasonOf(e)));
              }
              return o('failed', busy.length ? stuck.runningLine(g, busy[0]) : stuck.halfDeletedLine(g, name, true, caller));
            }
            return finishHalfDeleted(ctx, client, g, name, caller);
          }
          if (g.lock) return o('failed', lockMessage(g, caller));
          if (half && !force) return o('failed', stuck.halfDeletedLine(g, name, false, caller));
          if (ctx.dryRun) return o('skipped', `would delete snapshot '${name}'${force ? ' (forced)' : ''} (dry run)`);
          const res = await api.deleteSnapshot(client, g, name, force);
          const out = outcomeOf(g, 'delete', name, res, `deleted snapshot '${name}'${snap.snapstate ? ` (was snapstate=${snap.snapstate})` : ''}`);
          if (out.status === 'failed' && !force) {
            // a delete that failed after taking the lock leaves the snapshot half-deleted
            const after = (await api.listSnapshots(client, g).catch(() => [])).find((e) => e.name === name);
            // another client's delete, started after our list read, looks the same: ask the detector
            const st = after?.snapstate === 'delete' ? await sharedStuck.deleteState(client, g) : undefined;
            if (st?.state === 'deleting') out.message += `; ${stuck.runningLine(g, st.upid)}`;
            else if (st?.state === 'unknown') out.message += `; ${sharedStuck.unknownLine(g, st.why)}`;
            else if (st) {
              out.message += `; Proxmox left it half-deleted and the ${kind(g)} locked (snapshot-delete): ${
                stuck.canClearLock(g, caller) ? `'${TOOL} delete ${g.vmid} ${name} --force' clears the lock and finishes it` : stuck.wayOut(g, name)
              }`;
            }
          }
          return out;
        }),
      emitter(ctx),
    );
    return finish(ctx, outcomes);
  } finally {
    await client.close();
  }
}

/**
 * `delete <guest> <name> --force` on the half-deleted snapshot of a guest locked
 * `snapshot-delete`: clear the lock (root@pam, VM only) and delete with force=1. Every
 * fact the decision rests on is read again first; the lock is never cleared when it may
 * belong to a delete still running, or when the config changed since it was read.
 */
async function finishHalfDeleted(ctx: Ctx, client: PveClient, g: GuestInfo, name: string, caller: string | undefined): Promise<Outcome> {
  const o = (status: Outcome['status'], message: string, upid?: string): Outcome => ({ guest: g, status, action: 'delete', snapshot: name, message, upid });
  if (!stuck.canClearLock(g, caller)) {
    return o('failed', `cannot finish the half-deleted snapshot '${name}': the ${kind(g)} is locked (snapshot-delete) by that failed delete and ${stuck.whyNotClear(g, caller)}; ${stuck.wayOut(g, name)}`);
  }
  // the config first: its digest then covers the snapshot state checked below
  const cfg = await stuck.guestConfig(client, g);
  if (cfg.lock && cfg.lock !== 'snapshot-delete') return o('failed', lockMessage({ ...g, lock: cfg.lock }, caller));
  const snap = (await api.listSnapshots(client, g)).find((e) => e.name === name);
  if (!snap) return o('failed', `snapshot '${name}' does not exist`);
  if (cfg.lock && snap.snapstate !== 'delete') return o('failed', `${kind(g)} is locked (snapshot-delete) but '${name}' is no longer half-deleted: a delete is running; try again when it has finished`);
  let running: string[];
  try {
    running = await stuck.runningDeletes(client, g);
  } catch (e) {
    if (fatal(e)) throw e;
    return o('failed', `cannot tell whether a delete is still running on ${g.node} (${reasonOf(e)}), so the lock snapshot-delete is left alone; ${stuck.wayOut(g, name)} once none is`);
  }
  if (running.length) return o('failed', stuck.runningLine(g, running[0]));
  const unlock = cfg.lock ? 'cleared the lock snapshot-delete left by a failed delete, then ' : '';
  if (ctx.dryRun) return o('skipped', `would ${cfg.lock ? 'clear the lock snapshot-delete left by a failed delete, then ' : ''}delete snapshot '${name}' with force=1 (dry run)`);
  if (cfg.lock) {
    try {
      await stuck.clearLock(client, g, cfg.digest);
    } catch (e) {
      if (fatal(e)) throw e;
      if (e instanceof PveApiError && e.errors?.skiplock) return o('failed', `cannot clear the lock snapshot-delete: ${e.errors.skiplock.replace(/\.$/, '')} (skiplock); ${stuck.wayOut(g, name)}`);
      return o('failed', `clearing the lock snapshot-delete failed: ${reasonOf(e)}; nothing was deleted`);
    }
    info(`${label(g)}: cleared the lock snapshot-delete (snapshot '${name}' was half-deleted by a failed delete)`);
  }
  const res = await api.deleteSnapshot(client, g, name, true);
  const out = outcomeOf(g, 'delete', name, res, `${unlock}deleted snapshot '${name}' (forced)`);
  if (out.status === 'failed' && cfg.lock) out.message = `lock snapshot-delete cleared, but the forced delete of '${name}' failed: ${res.exitstatus}`;
  return out;
}

/** Snapshots a clean-up may never take, whatever the pattern says. */
export function protectedFromCleanup(e: SnapshotEntry, type: string): string | undefined {
  if (e.name === 'current') return 'current';
  if (e.name.startsWith('__')) return 'replication';
  if (type === 'lxc' && e.name === 'vzdump') return 'vzdump';
  return undefined;
}

export function cleanupCandidates(entries: SnapshotEntry[], type: string, opts: { match?: string; age?: number; now: number }): SnapshotEntry[] {
  return entries
    .filter((e) => !protectedFromCleanup(e, type))
    .filter((e) => opts.match === undefined || globMatch(opts.match, e.name))
    .filter((e) => opts.age === undefined || (e.snaptime !== undefined && opts.now - Number(e.snaptime) > opts.age))
    .sort((a, b) => (a.snaptime ?? 0) - (b.snaptime ?? 0) || a.name.localeCompare(b.name));
}

async function cleanupAction(ctx: Ctx, target: string): Promise<number> {
  const age = olderThan(ctx.args);
  const match = ctx.args.match === undefined ? undefined : String(ctx.args.match);
  if (age === undefined && match === undefined) throw new UsageError('delete: give a snapshot name, or --older-than and/or --match for a clean-up');
  if (match === '') throw new UsageError('--match: empty pattern');
  if (ctx.args.force) throw new UsageError('delete: --force is for one named snapshot, not for a clean-up');
  const yes = ctx.args.yes === true;
  requireConfirmable({ yes, dryRun: ctx.dryRun }, 'delete clean-up asks for confirmation', 'delete', '--dry-run to only list');
  const client = await open(ctx, target);
  try {
    const guests = (await resolve(client, target)).filter((g) => !g.template || isSingleGuest(target));
    const now = nowSeconds();
    // decide first, for every guest; nothing is deleted before the whole plan is shown
    const plans = await forEachGuest(
      guests,
      ctx.parallel,
      async (g) => {
        try {
          return { guest: g, doomed: cleanupCandidates(await api.listSnapshots(client, g), g.type, { match, age, now }) };
        } catch (e) {
          if (fatal(e)) throw e;
          return { guest: g, doomed: [] as SnapshotEntry[], error: reasonOf(e) };
        }
      },
      () => {},
    );
    const outcomes: Outcome[] = [];
    for (const p of plans) {
      if (p.error) outcomes.push(report(ctx, { guest: p.guest, status: 'failed', action: 'delete', message: `cannot list snapshots: ${p.error}` }));
    }
    const work = plans.filter((p) => !p.error && p.doomed.length);
    const total = work.reduce((n, p) => n + p.doomed.length, 0);
    const planLines = work.flatMap((p) =>
      p.doomed.map((e) => `${label(p.guest)}: ${e.name}  ${formatTime(e.snaptime, ctx.tz)}  ${e.snaptime !== undefined ? `(${ageText(now - Number(e.snaptime))} old)` : ''}`.trimEnd()),
    );
    if (!total) {
      info(`nothing to delete: no snapshot matches${match !== undefined ? ` '${match}'` : ''}${age !== undefined ? ` older than ${ctx.args['older-than']}` : ''}`);
      return finish(ctx, outcomes);
    }
    if (ctx.dryRun) {
      for (const p of work) for (const e of p.doomed) outcomes.push({ guest: p.guest, status: 'skipped', action: 'delete', snapshot: e.name, message: `would delete snapshot '${e.name}' (dry run)` });
      if (ctx.format === 'text') printLines(planLines.map((l) => `would delete ${l}`));
      return finish(ctx, outcomes);
    }
    if (!yes) {
      for (const l of planLines) stderrLine(`  ${l}`);
      const what = total === 1 ? 'this snapshot' : `these ${total} snapshots${work.length > 1 ? ` of ${work.length} guests` : ''}`;
      if (!(await confirm(`delete ${what}`))) {
        info('nothing deleted');
        return EXIT.FAILED;
      }
    }
    const done = await forEachGuest(
      work.map((p) => p.guest),
      ctx.parallel,
      async (g) => {
        const mine: Outcome[] = [];
        const doomed = work.find((p) => p.guest === g)!.doomed;
        for (const e of doomed) {
          // one guest holds one snapshot lock at a time: its deletions run one after another
          const o = await guarded(g, 'delete', e.name, async () => {
            if (g.lock) return { guest: g, status: 'failed', action: 'delete', snapshot: e.name, message: await lockLine(client, g, stuck.callerOf(client)) };
            return outcomeOf(g, 'delete', e.name, await api.deleteSnapshot(client, g, e.name, false), `deleted snapshot '${e.name}'`);
          });
          mine.push(o);
          if (g.lock) break;
        }
        return mine;
      },
      (_g, list) => list.forEach((o) => emitter(ctx)(o.guest, o)),
    );
    return finish(ctx, [...outcomes, ...done.flat()]);
  } finally {
    await client.close();
  }
}

export function ageText(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 86400) return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600) ? ` ${Math.floor((s % 86400) / 3600)}h` : ''}`;
  if (s >= 3600) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)}m` : ''}`;
  if (s >= 60) return `${Math.floor(s / 60)}m`;
  return `${s}s`;
}

// ------------------------------------------------------------------------ config, describe

/**
 * `qm config` style: sorted `key: value` lines, without the digest. Like qm, line breaks
 * (in the description) are percent-encoded, so every setting stays on one line.
 */
export function configLines(config: Record<string, unknown>): string[] {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must be encoded
  const encode = (v: string) => v.replace(/[\x00-\x1f%]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
  return Object.keys(config)
    .filter((k) => k !== 'digest')
    .sort()
    .map((k) => `${k}: ${encode(String(config[k]))}`);
}

async function configAction(ctx: Ctx, target: string, name: string): Promise<number> {
  const problem = existingNameProblem(name);
  if (problem) throw new UsageError(problem);
  if (ctx.format !== 'text' && ctx.format !== 'json' && ctx.format !== 'jsonpretty') throw new UsageError(`config: output format ${ctx.format} is not available (text, json, jsonpretty)`);
  const client = await open(ctx, target);
  try {
    const [g] = await resolve(client, target, { single: true });
    let config: Record<string, unknown>;
    try {
      config = await api.snapshotConfig(client, g, name);
    } catch (e) {
      if (fatal(e)) throw e;
      error(`${TOOL}: ${label(g)}: config of '${name}' failed: ${reasonOf(e)}`);
      return EXIT.FAILED;
    }
    if (ctx.format === 'text') printLines(configLines(config));
    else print(escapeJson(JSON.stringify(config, null, ctx.format === 'jsonpretty' ? 2 : undefined)) + '\n');
    return EXIT.OK;
  } finally {
    await client.close();
  }
}

async function describeAction(ctx: Ctx, target: string, name: string, text: string): Promise<number> {
  const problem = existingNameProblem(name);
  if (problem) throw new UsageError(problem);
  const client = await open(ctx, target);
  try {
    const [g] = await resolve(client, target, { single: true });
    const o = await guarded(g, 'describe', name, async () => {
      if (ctx.dryRun) return { guest: g, status: 'skipped', action: 'describe', snapshot: name, message: `would set the description of '${name}' (dry run)` };
      await api.setDescription(client, g, name, text);
      return { guest: g, status: 'ok', action: 'describe', snapshot: name, message: `description of '${name}' set` };
    });
    return finish(ctx, [report(ctx, o)]);
  } finally {
    await client.close();
  }
}
