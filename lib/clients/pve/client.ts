// The PveClient every tool codes against: one request function over either transport,
// with bounded retries for reads and task waiting. Writes are never repeated blindly:
// a write is retried only after a failure that proves it did not happen (connection
// refused, 503/595 answered before any work); the rest is for the caller to check
// (see snapshots.ts).
import { debug } from '../../core/log.ts';
import { ApiTransport, type ApiOptions } from './api.ts';
import { PveApiError } from './errors.ts';
import { NetworkError } from '../../core/net-errors.ts';
import { PveshTransport, type PveshOptions } from './pvesh.ts';
import { READ_RETRY, TRANSIENT_STATUS, backoffDelay, sleep as realSleep, type RetryPolicy } from './retry.ts';
import { DEFAULT_TASK_TIMEOUT_MS } from './tasks.ts';
import { TaskWatcher } from './task-watcher.ts';
import type { ClientStats, Method, Params, PveClient, TaskResult, WaitOptions } from './types.ts';

export interface Transport {
  readonly kind: 'api' | 'pvesh';
  send(method: Method, path: string, params?: Params): Promise<unknown>;
  close?(): Promise<void>;
}

export interface ClientOptions {
  transport: 'api' | 'pvesh';
  api?: Omit<ApiOptions, 'now'>;
  pvesh?: PveshOptions;
  retry?: Partial<RetryPolicy>;
  taskTimeoutMs?: number;
  /** the client's clock and sleep, injectable for tests */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** A cancellable timer on top of a sleep function (a cancelled timer's sleep runs out unseen). */
function sleepTimer(sleep: (ms: number) => Promise<void>) {
  return (ms: number, fn: () => void) => {
    let live = true;
    void sleep(ms).then(() => live && fn());
    return () => {
      live = false;
    };
  };
}

/** Statuses a write may be retried on: answered before the server did anything. */
const WRITE_RETRY_STATUS = new Set([503, 595]);

export class Client implements PveClient {
  readonly transport: 'api' | 'pvesh';
  readonly stats: ClientStats = { requests: 0, polls: 0, lists: 0, retries: 0, failovers: 0 };
  readonly impl: Transport;
  private readonly retry: RetryPolicy;
  private readonly taskTimeoutMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly sleepInjected: boolean;
  private readonly clockInjected: boolean;
  private watcher?: TaskWatcher;

  constructor(opts: ClientOptions, transport?: Transport) {
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? realSleep;
    this.sleepInjected = opts.sleep !== undefined;
    this.clockInjected = opts.now !== undefined;
    this.random = opts.random ?? Math.random;
    this.retry = { ...READ_RETRY, ...opts.retry };
    this.taskTimeoutMs = opts.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS;
    if (transport) this.impl = transport;
    else if (opts.transport === 'pvesh') this.impl = new PveshTransport(opts.pvesh ?? {}, this.stats);
    else {
      if (!opts.api) throw new Error('api transport without api options');
      this.impl = new ApiTransport({ ...opts.api, now: this.now }, this.stats);
    }
    this.transport = this.impl.kind;
  }

  async request<T = unknown>(method: Method, path: string, params?: Params): Promise<T> {
    const started = this.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.impl.send(method, path, params)) as T;
      } catch (e) {
        if (!this.mayRetry(method, e) || attempt >= this.retry.attempts) throw e;
        const delay = backoffDelay(attempt, this.retry, this.random);
        if (this.now() - started + delay > this.retry.budgetMs) throw e;
        this.stats.retries++;
        debug(`${method} ${path}: ${(e as Error).message}; retry ${attempt} in ${delay} ms`);
        await this.sleep(delay);
      }
    }
  }

  private mayRetry(method: Method, e: unknown): boolean {
    if (e instanceof NetworkError) return e.retryable && (method === 'GET' || !e.sent);
    if (e instanceof PveApiError) return method === 'GET' ? TRANSIENT_STATUS.has(e.status) : WRITE_RETRY_STATUS.has(e.status);
    return false;
  }

  get<T = unknown>(path: string, params?: Params): Promise<T> {
    return this.request<T>('GET', path, params);
  }
  post<T = unknown>(path: string, params?: Params): Promise<T> {
    return this.request<T>('POST', path, params);
  }
  put<T = unknown>(path: string, params?: Params): Promise<T> {
    return this.request<T>('PUT', path, params);
  }
  delete<T = unknown>(path: string, params?: Params): Promise<T> {
    return this.request<T>('DELETE', path, params);
  }

  /**
   * Wait for a task. All waits of a client share one watcher, which reads the cluster's
   * task list once for all the tasks waited for at that moment (see TaskWatcher).
   */
  waitTask(upid: string, opts?: WaitOptions): Promise<TaskResult> {
    this.watcher ??= new TaskWatcher(
      {
        get: (p, q) => this.get(p, q),
        onPoll: () => this.stats.polls++,
        onList: () => this.stats.lists++,
        // the tasks' own clock unless one is injected: the waits and time-outs of tasks
        // must not follow the wall clock's steps
        now: this.clockInjected ? this.now : undefined,
        // pvesh runs a task to its end before it answers with the UPID: one status read
        // each settles it, and a list read would only add a process start
        useList: this.transport === 'api',
        // an injected sleep (tests) drives the watcher's timer too
        timer: this.sleepInjected ? sleepTimer(this.sleep) : undefined,
      },
      this.taskTimeoutMs,
    );
    return this.watcher.wait(upid, opts);
  }

  async close(): Promise<void> {
    await this.impl.close?.();
  }
}
