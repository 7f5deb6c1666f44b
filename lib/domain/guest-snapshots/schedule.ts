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
 * Waiting items per node, in input order (next = the first not yet started), and the
 * slots each node has in use. The next item to start is the lowest index among the nodes
 * with a free slot: the order of one list scanned past full nodes, without scanning every
 * waiting item of a full node each time a slot frees (quadratic in the guests: 10,000
 * guests on 3 nodes made ~10^8 steps, and the loop hot enough to be compiled by every JIT
 * tier, which costs memory too).
 */
class NodeQueues {
  private readonly queues = new Map<string, { list: number[]; next: number }>();
  private readonly perNode = new Map<string, number>();
  /** items not started yet */
  waiting: number;

  constructor(nodes: string[], private readonly maxPerNode: number) {
    nodes.forEach((node, i) => {
      const q = this.queues.get(node);
      if (q) q.list.push(i);
      else this.queues.set(node, { list: [i], next: 0 });
    });
    this.waiting = nodes.length;
  }

  /** The first waiting item (by index) whose node has a free slot; it takes that slot. */
  take(): number | undefined {
    let best: { list: number[]; next: number } | undefined;
    let bestNode = '';
    for (const [node, q] of this.queues) {
      if (q.next >= q.list.length || (this.perNode.get(node) ?? 0) >= this.maxPerNode) continue;
      if (!best || q.list[q.next] < best.list[best.next]) {
        best = q;
        bestNode = node;
      }
    }
    if (!best) return undefined;
    this.waiting--;
    this.perNode.set(bestNode, (this.perNode.get(bestNode) ?? 0) + 1);
    return best.list[best.next++];
  }

  /** An item of `node` ended: its slot is free. */
  release(node: string): void {
    this.perNode.set(node, (this.perNode.get(node) ?? 1) - 1);
  }

  /** The first `n` waiting items of each node, lowest indexes first. */
  ahead(n: number): number[] {
    const candidates: number[] = [];
    for (const q of this.queues.values()) candidates.push(...q.list.slice(q.next, q.next + n));
    return candidates.sort((a, b) => a - b);
  }
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
  const results: Array<{ ok: true; value: R } | { ok: false; error: unknown }> = new Array(items.length);
  const queues = new NodeQueues(items.map((item) => item.node), Math.max(1, limits.maxPerNode));
  const prepared = new Map<number, Promise<P>>();
  let running = 0;
  const prepare = (i: number) => {
    if (!ahead || prepared.has(i)) return;
    const p = Promise.resolve().then(() => ahead.prepare(items[i], i));
    // its failure is the item's, reported when the item runs
    p.catch(() => {});
    prepared.set(i, p);
  };
  return new Promise((resolve) => {
    const pump = () => {
      if (queues.waiting === 0 && running === 0) {
        resolve(results);
        return;
      }
      while (running < maxParallel) {
        const i = queues.take();
        if (i === undefined) break;
        const node = items[i].node;
        running++;
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
            queues.release(node);
            pump();
          });
      }
      // the first ahead.perNode waiting items of each node, at most maxParallel in all
      if (ahead) for (const i of queues.ahead(ahead.perNode).slice(0, maxParallel)) prepare(i);
    };
    pump();
  });
}
