// When to try again, and how long to wait. Pure, so the schedule is testable.

/** pveproxy pass-through failures (595/596/597/599) and overload answers: transient. */
export const TRANSIENT_STATUS = new Set([502, 503, 595, 596, 597, 599]);

// After 596, 597 and 599 a write may or may not have happened: the proxy forwarded it and
// lost the answer (596 includes the 30 s header timeout; 597 the body; 599 garbled). 595
// (could not connect to the other node) and 502/503 are answered before any work, so the
// client retries a write only on those (WRITE_RETRY_STATUS in client.ts).

export interface RetryPolicy {
  /** total tries, the first included */
  attempts: number;
  baseMs: number;
  maxMs: number;
  factor: number;
  /** stop retrying once this much time has gone by since the first try */
  budgetMs: number;
}

export const READ_RETRY: RetryPolicy = { attempts: 5, baseMs: 200, maxMs: 5_000, factor: 2, budgetMs: 60_000 };

/**
 * Delay before retry number `retry` (1 = first retry): exponential, capped, with "equal
 * jitter" (half fixed, half random) so many clients do not retry in lockstep yet each
 * still waits at least half the nominal delay.
 */
export function backoffDelay(retry: number, p: Pick<RetryPolicy, 'baseMs' | 'maxMs' | 'factor'>, random: () => number = Math.random): number {
  const nominal = Math.min(p.maxMs, p.baseMs * Math.pow(p.factor, Math.max(0, retry - 1)));
  return Math.round(nominal / 2 + (nominal / 2) * random());
}

/** Task polling: starts fast so a quick task costs little wall time, then backs off. */
export function pollDelays(count: number): number[] {
  const out: number[] = [];
  let d: number | undefined;
  for (let i = 0; i < count; i++) out.push((d = nextPollDelay(d)));
  return out;
}

export function nextPollDelay(prev: number | undefined, firstMs = 50, factor = 1.5, maxMs = 2_000): number {
  return prev === undefined ? firstMs : Math.min(maxMs, Math.round(prev * factor));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
