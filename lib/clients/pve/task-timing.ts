// When to look at a task, and what the looks teach about how long tasks take. Pure (the
// durations aside, which only remember), so every schedule is a table in the tests.
//
// A task's end is only seen by a poll, so every poll interval after the end
// is time lost (for a 0.5 s snapshot delete, a plain 50 ms x1.5 backoff notices the end
// ~35% late), while polling constantly floods the node. Snapshot tasks of one type on one
// node take much the same time, so the client learns how long they take from the tasks
// it has already waited for, polls first just before the expected end, then in short
// steps that widen the longer the task overruns (never more than 1 s apart). A lone wait
// follows pollDelay (tasks.ts); the watcher, which reads one task list for many tasks
// (task-watcher.ts), follows watchDelay.

/** No poll waits longer than this, however long the task runs: its end is seen within 1 s. */
export const MAX_POLL_MS = 1_000;

/**
 * The delay before the next status poll, `elapsed` ms after waiting began, for a task
 * expected to end after `expected` ms (undefined: nothing learnt yet). Pure, so the
 * schedule is a table in the tests.
 *
 * - Nothing learnt: polls at 0, 50, 125, 237, 406, ... ms (each wait half of the time
 *   gone by plus 50 ms: fast for a task that ends at once, as pvesh's do), up to 1 s.
 * - Learnt: the first poll a little before the expected end (5% or at most 50 ms early,
 *   so a task as fast as the last ones is usually seen running once, then ended), then
 *   steps of 5% of the expected duration (10..50 ms), plus a quarter of the overrun once the
 *   expected end has passed.
 * - Never more than 1 s between polls, also before the expected end: an estimate can be
 *   wrong (a short task after long ones), and a task is never noticed more than 1 s late.
 */
export function pollDelay(elapsed: number, expected?: number): number {
  if (expected === undefined) return Math.round(Math.min(MAX_POLL_MS, Math.max(50, (elapsed + 100) / 2)));
  const step = Math.min(50, Math.max(10, expected / 20));
  const firstAt = Math.max(0, expected - Math.min(50, expected / 20));
  // rounded up: a wait rounded down to 0 would poll again and again before the expected end
  if (elapsed < firstAt) return Math.min(MAX_POLL_MS, Math.ceil(firstAt - elapsed));
  return Math.round(Math.min(MAX_POLL_MS, step + Math.max(0, elapsed - expected) / 4));
}

/** When the first poll goes, for a task expected to end after `expected` ms (0: at once). */
export function firstPollAt(expected: number | undefined): number {
  if (expected === undefined) return 0;
  return Math.min(MAX_POLL_MS, Math.ceil(Math.max(0, expected - Math.min(50, expected / 20))));
}

/**
 * When a task ended, as far as the polls tell: after the last poll that saw it running
 * (`lastRunning`, ms after waiting began) and by the first that saw it stopped
 * (`stoppedAt`): the middle of that window. When the very first poll already saw it
 * stopped, the task was faster than expected by an unknown amount: a quarter less is a
 * guess the median ignores once but follows when it keeps happening (a faster node).
 */
export function observedDuration(lastRunning: number | undefined, stoppedAt: number): number {
  return lastRunning === undefined ? stoppedAt * 0.75 : (lastRunning + stoppedAt) / 2;
}

/**
 * Where the next first look at tasks of a kind goes, after one of them ended: `current` is
 * where the first look stands, `usedAt` where this task's first look was (ms after its
 * wait began), `lastRunning` the latest look that still saw it running. Seen running at
 * or after its first look (a miss, which costs a read and a step's delay): just past that
 * look, by a tenth of a step (at least 2 ms); a look more than two steps past the expected
 * end counts as the first look (an outlier). Seen ended by it: a fortieth of that earlier.
 * So the first look settles where about one task in forty is missed (a running quantile
 * of the send time from which a look sees the end, updated per task): at the upper edge
 * of where such tasks end, whatever the margin or a read's waiting, which neither move
 * it. Pure, for the tests.
 */
export function nextFirstLook(current: number, usedAt: number, lastRunning: number | undefined, expected: number): number {
  const up = Math.max(2, stepOf(expected) / 10);
  if (lastRunning === undefined || lastRunning < usedAt) return current - up / 40;
  // still running past where the look is ever put (learntFirstAt's cap): not a task alike
  // (a snapshot with its RAM, a far bigger disk). Raised only as by a miss at the look:
  // past its end, the look would sit at the cap for thousands of ordinary tasks after it
  const seen = lastRunning > expected + 2 * stepOf(expected) ? usedAt : lastRunning;
  return Math.max(current, seen + up);
}

/**
 * The first look at a watched task: where nextFirstLook has put it for its kind, at most
 * two steps past the expected end (tasks that became faster are looked at no later than
 * that); nothing learnt: watchFirstAt. Not capped at watchFirstAt: the duration estimate
 * leans early by design (see watchedDuration), the learnt look does not.
 */
export function learntFirstAt(learnt: number | undefined, expected: number | undefined): number {
  if (learnt === undefined || expected === undefined) return watchFirstAt(expected);
  return Math.min(MAX_POLL_MS, Math.ceil(Math.min(learnt, expected + 2 * stepOf(expected))));
}

/**
 * The next look at a task that its learnt first look found running: a tenth of a step
 * (at least 4 ms), not a step: such a look misses the end by the jitter of tasks alike,
 * a few ms (see nextFirstLook).
 */
export function relookDelay(expected: number | undefined): number {
  return Math.max(4, Math.round(stepOf(expected ?? 0) / 10));
}

/**
 * Running estimates of task durations per task type and node (with the type's estimate
 * over all nodes for a node not seen yet): the median of the last few successful tasks,
 * so a few long outliers (a snapshot with RAM, a big disk) do not delay the polls of all
 * the ordinary ones after them, while a node that slows down for good is followed.
 */
export class TaskDurations {
  private readonly byKey = new Map<string, number[]>();
  private readonly looksByKey = new Map<string, number>();
  constructor(private readonly window = 9) {}

  /** where the first look at a watched task of a type on a node ('': on all nodes) stands, if learnt */
  firstLook(type: string, node: string): number | undefined {
    return this.looksByKey.get(node ? `${type}@${node}` : type);
  }

  /**
   * moves it after a watched task ended OK (see nextFirstLook): its node's, and the type's
   * when the task was one of the nodes alike (`alike`: it had the type's estimate); a node
   * with its own estimate (a slower one) would hold the others' look at its cap for good
   */
  observeLook(type: string, node: string, usedAt: number, lastRunning: number | undefined, expected: number, alike: boolean): void {
    if (!Number.isFinite(usedAt)) return;
    for (const key of alike ? [`${type}@${node}`, type] : [`${type}@${node}`]) {
      this.looksByKey.set(key, nextFirstLook(this.looksByKey.get(key) ?? usedAt, usedAt, lastRunning, expected));
    }
  }

  expected(type: string, node: string): number | undefined {
    const list = this.byKey.get(`${type}@${node}`) ?? this.byKey.get(type);
    if (!list?.length) return undefined;
    const sorted = [...list].sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)];
  }

  /** forget everything (tests; a client pointed at another cluster) */
  clear(): void {
    this.byKey.clear();
    this.looksByKey.clear();
  }

  observe(type: string, node: string, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    for (const key of [`${type}@${node}`, type]) {
      const list = this.byKey.get(key) ?? [];
      list.push(ms);
      if (list.length > this.window) list.shift();
      this.byKey.set(key, list);
    }
  }
}

/** One estimate per process: a run talks to one cluster, and its tasks teach each other. */
export const sharedTaskDurations = new TaskDurations();

/**
 * The tick for waiters due at `dueTimes` when the earliest is due at `first` (expected to
 * take `expected` ms): the latest due time within a window after it (10% of the
 * expected duration, 10..25 ms), so that one list read serves them all. The window
 * absorbs the jitter between tasks that started together (a busy client or node, a
 * burst of writes answered one after the other), which would otherwise split them over
 * several reads for good; it is bounded in ms because that jitter does not grow with
 * the task, while every ms of it delays the early tasks' successors. Pure, for the tests.
 */
export function coalescedTick(first: number, expected: number | undefined, dueTimes: number[]): number {
  const window = Math.min(25, Math.max(10, (expected ?? 0) / 10));
  let at = first;
  for (const t of dueTimes) if (t > at && t <= first + window) at = t;
  return at;
}

/** The short step of pollDelay for a task expected to take `expected` ms. */
const stepOf = (expected: number) => Math.min(50, Math.max(10, expected / 20));

/**
 * When the watcher first looks at a task expected to end after `expected` ms: half a
 * step after the expected end (0: at once; nothing learnt: at once, then pollDelay's fast
 * start). Looking just before the end, as a lone poll does, costs a second read for every
 * task; the list reads for many tasks at once, and tasks settled together end together,
 * so one read just after the end settles them all.
 */
export function watchFirstAt(expected: number | undefined): number {
  if (expected === undefined) return 0;
  return Math.min(MAX_POLL_MS, Math.ceil(expected + stepOf(expected) / 2));
}

/**
 * The duration the watcher expects of a task: its node's estimate, or the type's over all
 * nodes when the two are within 10% (at least 10 ms) of each other. Nodes alike then give
 * their tasks the same first look, so one read settles them all, and tasks settled
 * together go on together; a node clearly faster or slower than the rest keeps its own.
 */
export function sharedExpectation(node: number | undefined, all: number | undefined): number | undefined {
  if (node === undefined || all === undefined) return node ?? all;
  return Math.abs(node - all) <= Math.max(10, all / 10) ? all : node;
}

/**
 * How long a watched task took, as far as the looks tell: the middle of the last look
 * that saw it running and the first that saw it ended, when those are at most two steps
 * apart. Further apart (the task was not looked at just before its end), the end lies
 * somewhere in a wide window: three quarters of a step before the look that saw it ended
 * is taken, which pulls the estimate down a little each time until a look lands just
 * before the end again and measures it; so the first look stays close behind the end.
 */
export function watchedDuration(lastRunning: number | undefined, stoppedAt: number, expected: number | undefined): number {
  const step = stepOf(expected ?? stoppedAt);
  if (lastRunning !== undefined && stoppedAt - lastRunning <= 2 * step) return (lastRunning + stoppedAt) / 2;
  return expected === undefined ? observedDuration(lastRunning, stoppedAt) : Math.max(0, stoppedAt - 0.75 * step);
}

/**
 * The delay before the next look at a task that shares its reads, seen running `elapsed`
 * ms after its wait began: up to its first look (`first`, default watchFirstAt), then steps of 2.5% of the expected
 * duration (4..50 ms) widening by a quarter of the overrun, never more than 1 s. Nothing
 * learnt: 50 ms, then a quarter of the time gone by plus 25 ms (a lone poll: half of it
 * plus 50), so the first tasks of a run, which wait together, are seen within a quarter
 * of their duration (a 1 s task by 1.09 s, not 1.49 s) for a few more reads. Finer than
 * a lone poll's steps: the read is shared.
 */
export function watchDelay(elapsed: number, expected: number | undefined, first = watchFirstAt(expected)): number {
  if (expected === undefined) return Math.round(Math.min(MAX_POLL_MS, Math.max(50, (elapsed + 100) / 4)));
  // a first look held at 1 s (a longer task) is no place to start the steps from: up to
  // the expected end in waits of 1 s at most, as a lone poll (else 20 reads a second)
  const until = first >= MAX_POLL_MS ? Math.max(first, Math.ceil(expected + stepOf(expected) / 2)) : first;
  if (elapsed < until) return Math.min(MAX_POLL_MS, until - elapsed);
  return Math.round(Math.min(MAX_POLL_MS, Math.min(50, Math.max(4, expected / 40)) + Math.max(0, elapsed - expected) / 4));
}
