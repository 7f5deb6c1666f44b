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

/**
 * Run `work` for every item with at most `maxParallel` running at once and at most
 * `maxPerNode` per node. Results are returned in input order; a rejected `work` rejects
 * nothing else (its error is returned in its slot).
 */
export async function runBounded<T extends Schedulable, R>(
  items: T[],
  limits: { maxParallel: number; maxPerNode: number },
  work: (item: T, index: number) => Promise<R>,
): Promise<Array<{ ok: true; value: R } | { ok: false; error: unknown }>> {
  const maxParallel = Math.max(1, limits.maxParallel);
  const maxPerNode = Math.max(1, limits.maxPerNode);
  const results: Array<{ ok: true; value: R } | { ok: false; error: unknown }> = new Array(items.length);
  const pending = items.map((_, i) => i);
  const perNode = new Map<string, number>();
  let running = 0;
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
        Promise.resolve()
          .then(() => work(items[i], i))
          .then(
            (value) => (results[i] = { ok: true, value }),
            (error) => (results[i] = { ok: false, error }),
          )
          .finally(() => {
            running--;
            perNode.set(node, (perNode.get(node) ?? 1) - 1);
            pump();
          });
      }
    };
    pump();
  });
}
