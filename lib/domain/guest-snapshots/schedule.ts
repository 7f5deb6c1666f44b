// Guests run in parallel within two bounds: --max-parallel overall and --max-per-node per
// node. The per-node bound is the one that matters: a node's storage serialises snapshot
// work, so piling more tasks onto one node only lengthens each of them, while spreading
// them over nodes really overlaps. Guests start in the given order (vmid order), skipping
// ahead past guests whose node is full, so one busy node never idles the others.

export const DEFAULT_MAX_PER_NODE = 3;
export const DEFAULT_MAX_PARALLEL = 12;

export interface Schedulable {
  node: string;
}

/** Reads that may run ahead of an item's turn (see runBounded). */
export interface Lookahead<T, P> {
  prepare: (item: T, index: number) => Promise<P>;
  /** items prepared ahead per node, waiting for a slot (at most maxParallel in all) */
  perNode: number;
}

/**
 * Run `work` for every item with at most `maxParallel` running at once and at most
 * `maxPerNode` per node. Results are returned in input order; a rejected `work` rejects
 * nothing else (its error is returned in its slot).
 *
 * With `ahead`, each item's `prepare` (its reads) starts while it still waits for a slot:
 * for the next `ahead.perNode` waiting items of each node, so that when a slot frees up
 * the next item's first write goes out at once instead of after its reads' round trips.
 * The slots bound the tasks a node runs; reads of waiting items are not held to them.
 */
export async function runBounded<T extends Schedulable, R, P = undefined>(
  items: T[],
  limits: { maxParallel: number; maxPerNode: number },
  work: (item: T, index: number, prepared?: P) => Promise<R>,
  ahead?: Lookahead<T, P>,
): Promise<Array<{ ok: true; value: R } | { ok: false; error: unknown }>> {
  const maxParallel = Math.max(1, limits.maxParallel);
  const maxPerNode = Math.max(1, limits.maxPerNode);
  const results: Array<{ ok: true; value: R } | { ok: false; error: unknown }> = new Array(items.length);
  const pending = items.map((_, i) => i);
  const perNode = new Map<string, number>();
  const prepared = new Map<number, Promise<P>>();
  let running = 0;
  const prepare = (i: number) => {
    if (!ahead || prepared.has(i)) return;
    const p = Promise.resolve().then(() => ahead.prepare(items[i], i));
    // its failure is the item's, reported when the item runs
    p.catch(() => {});
    prepared.set(i, p);
  };
  const prefetch = () => {
    if (!ahead) return;
    const waiting = new Map<string, number>();
    let total = 0;
    for (const i of pending) {
      if (total >= maxParallel) break;
      const node = items[i].node;
      const n = waiting.get(node) ?? 0;
      if (n >= ahead.perNode) continue;
      waiting.set(node, n + 1);
      total++;
      prepare(i);
    }
  };
  return new Promise((resolve) => {
    const pump = () => {
      if (!pending.length && running === 0) {
        resolve(results);
        return;
      }
      for (let k = 0; k < pending.length && running < maxParallel; ) {
        const i = pending[k];
        const node = items[i].node;
        if ((perNode.get(node) ?? 0) >= maxPerNode) {
          k++;
          continue;
        }
        pending.splice(k, 1);
        running++;
        perNode.set(node, (perNode.get(node) ?? 0) + 1);
        prepare(i);
        Promise.resolve()
          .then(async () => work(items[i], i, ahead ? await prepared.get(i) : undefined))
          .then(
            (value) => (results[i] = { ok: true, value }),
            (error) => (results[i] = { ok: false, error }),
          )
          .finally(() => {
            prepared.delete(i);
            running--;
            perNode.set(node, (perNode.get(node) ?? 1) - 1);
            pump();
          });
      }
      prefetch();
    };
    pump();
  });
}
