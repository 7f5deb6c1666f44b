// The ONTAP simulator's clock. Work (a job's duration, how long a finished job stays
// visible) is measured in simulated seconds. Those pass on their own at 1/timeScale of
// real speed, and a test can move them on at once with advance(): then every timer that
// falls due fires, in order, each seeing the clock at its own due time, so a test never
// has to sleep and hope.
export class SimClock {
  private advancedMs = 0;
  private readonly startReal = Date.now();
  private readonly offsetMs: number;
  private readonly timers = new Set<Timer>();
  private seq = 0;

  /** `start`: the wall-clock time (ms) the cluster reports at start; default the real one */
  constructor(private readonly timeScale = 1, start?: number) {
    this.offsetMs = start === undefined ? 0 : start - this.startReal;
  }

  /** Wall-clock time as the cluster reports it (creation times, job end times). */
  now(): number {
    return Date.now() + this.offsetMs + this.advancedMs;
  }

  /** Simulated seconds since start: real time divided by the scale, plus every advance. */
  elapsed(): number {
    return (Date.now() - this.startReal) / 1000 / this.timeScale + this.advancedMs / 1000;
  }

  /** Run `fn` once `seconds` of simulated time have passed. */
  after(seconds: number, fn: () => void): void {
    const t: Timer = { due: this.elapsed() + Math.max(0, seconds), fn, seq: this.seq++ };
    this.timers.add(t);
    this.arm(t);
  }

  /** Move the clock on by `seconds`, firing what falls due on the way. */
  advance(seconds: number): void {
    const target = this.elapsed() + Math.max(0, seconds);
    for (;;) {
      let next: Timer | undefined;
      for (const t of this.timers) if (t.due <= target && (!next || t.due < next.due || (t.due === next.due && t.seq < next.seq))) next = t;
      if (!next) break;
      this.advancedMs += Math.max(0, next.due - this.elapsed()) * 1000;
      this.fire(next);
    }
    this.advancedMs += Math.max(0, target - this.elapsed()) * 1000;
    // the rest are due sooner in real time now
    for (const t of this.timers) this.arm(t);
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t.handle);
    this.timers.clear();
  }

  private arm(t: Timer): void {
    clearTimeout(t.handle);
    t.handle = setTimeout(() => this.fire(t), Math.max(0, (t.due - this.elapsed()) * 1000 * this.timeScale));
  }

  private fire(t: Timer): void {
    if (!this.timers.delete(t)) return;
    clearTimeout(t.handle);
    t.fn();
  }
}

interface Timer {
  due: number;
  fn: () => void;
  seq: number;
  handle?: ReturnType<typeof setTimeout>;
}
