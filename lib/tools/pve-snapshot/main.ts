// pve-snapshot: the manual side of snapshots, for any VM or container in the cluster.
// This file only dispatches: it parses the command line, checks the options and the
// arguments of the action, and runs the action's file (actions/). Each writing action
// reads what it needs, builds a plan (plan.ts) with a pure plan<Action> function, and
// hands it to the one runner (runner.ts), or prints it for --dry-run. Nothing is deleted
// or rolled back that the user did not name.
import { intOption, parseArgs, type Parsed } from '../../cli/args.ts';
import { EXIT, UsageError } from '../../core/errors.ts';
import { setLogLevel } from '../../core/log.ts';
import { parseFormat, print } from '../../core/output.ts';
import { VERSION } from '../../core/version.ts';
import { cleanupAction } from './actions/cleanup.ts';
import { configAction } from './actions/config.ts';
import { createAction } from './actions/create.ts';
import { deleteAction } from './actions/delete.ts';
import { describeAction } from './actions/describe.ts';
import { listAction } from './actions/list.ts';
import { rollbackAction } from './actions/rollback.ts';
import { completeMain } from './complete.ts';
import { TOOL, checkTimeZone, olderThan, type Ctx } from './frame.ts';
import { ACTIONS, actionHelp, mainHelp, type Action } from './help.ts';

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

/** The action to run, or the text to print instead (version, help). */
function pickAction(args: Parsed): { text: string } | { action: Action; rest: string[] } {
  if (args.version) return { text: `${TOOL} ${VERSION}\n` };
  const [word, ...rest] = args._.map(String);
  if (word === 'help') return { text: (ACTIONS as readonly string[]).includes(rest[0]) ? actionHelp(rest[0] as Action) : mainHelp() };
  if (!word) {
    if (args.help) return { text: mainHelp() };
    throw new UsageError(`no action given (expected one of ${ACTIONS.join(', ')}; see --help)`);
  }
  if (!(ACTIONS as readonly string[]).includes(word)) throw new UsageError(`unknown action '${word}' (expected one of ${ACTIONS.join(', ')})`);
  const action = word as Action;
  if (args.help) return { text: actionHelp(action) };
  checkOptions(action, args);
  const [min, max] = ARITY[action];
  if (rest.length < min || rest.length > max) {
    const what = rest.length < min ? 'missing arguments' : `unexpected argument '${rest[max]}'`;
    throw new UsageError(`${action}: ${what} (usage: ${actionHelp(action).split('\n')[0].replace(/^Usage: /, '')})`);
  }
  return { action, rest };
}

function checkOptions(action: Action, args: Parsed): void {
  const allowed = new Set(ACTION_OPTIONS[action]);
  for (const opt of [...SPEC.string, ...SPEC.boolean, 'dry-run']) {
    const v = args[opt];
    const given = typeof v === 'boolean' ? v : v !== undefined;
    if (given && !allowed.has(opt)) throw new UsageError(`option --${opt} does not apply to '${action}'`);
  }
}

export async function pveSnapshotMain(argv: string[]): Promise<number> {
  if (argv[0] === '__complete') return completeMain(argv.slice(1));
  const args = parseArgs(argv, SPEC);
  if (args.debug) setLogLevel('debug');
  else if (args.quiet) setLogLevel('warn');
  const picked = pickAction(args);
  if ('text' in picked) {
    print(picked.text);
    return EXIT.OK;
  }
  const { action, rest } = picked;
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
      return rest.length === 2 ? deleteAction(ctx, rest[0], rest[1]) : cleanupAction(ctx, rest[0]);
    case 'config':
      return configAction(ctx, rest[0], rest[1]);
    case 'describe':
      return describeAction(ctx, rest[0], rest[1], rest[2]);
  }
}
