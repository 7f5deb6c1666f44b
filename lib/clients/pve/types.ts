// The contract between the tools and the Proxmox client. Tools depend on these types only;
// lib/clients/pve/client.ts implements them over two transports (HTTPS API and local pvesh).

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
/** Request parameters as PVE takes them; booleans travel as 0/1, undefined is left out. */
export type Params = Record<string, string | number | boolean | undefined>;

export interface TaskResult {
  upid: string;
  node: string;
  /** the raw exitstatus: "OK", "WARNINGS: N", or the error text */
  exitstatus: string;
  ok: boolean;
  warnings: number;
  /** last lines of the task log, filled when the task failed */
  logTail?: string[];
}

export interface WaitOptions {
  /** give up after this long (ms); default the client's task timeout */
  timeoutMs?: number;
  /** throw TaskError when the task did not end OK/WARNINGS (default true) */
  throwOnFailure?: boolean;
}

export interface ClientStats {
  /** every request sent, polls included */
  requests: number;
  /** task status polls, counted apart so benchmarks can report both */
  polls: number;
  /** task list reads that stand in for polls of many tasks at once */
  lists: number;
  retries: number;
  failovers: number;
}

export interface PveClient {
  readonly transport: 'api' | 'pvesh';
  readonly stats: ClientStats;
  request<T = unknown>(method: Method, path: string, params?: Params): Promise<T>;
  get<T = unknown>(path: string, params?: Params): Promise<T>;
  post<T = unknown>(path: string, params?: Params): Promise<T>;
  put<T = unknown>(path: string, params?: Params): Promise<T>;
  delete<T = unknown>(path: string, params?: Params): Promise<T>;
  /** Wait until a task ends (its status, or the cluster's task list when many are waited for). */
  waitTask(upid: string, opts?: WaitOptions): Promise<TaskResult>;
  close(): Promise<void>;
}

/** One entry of GET /cluster/resources?type=vm */
export interface ClusterVm {
  id: string;
  type: 'qemu' | 'lxc';
  vmid: number;
  node: string;
  name?: string;
  status: string;
  template?: number;
  lock?: string;
  tags?: string;
  pool?: string;
  maxdisk?: number;
  disk?: number;
}

/** One entry of GET .../snapshot */
export interface SnapshotEntry {
  name: string;
  snaptime?: number;
  description?: string;
  parent?: string;
  vmstate?: number;
  snapstate?: string;
  running?: number;
  digest?: string;
}
