// Requests to a host whose certificate is pinned: HTTP/1.1 (lib/core/http1.ts) over bun's
// own TLS sockets (Bun.connect), kept alive, at most MAX_CONNECTIONS at a time.
//
// Why not node:http with a TLS agent, as before: its client is JavaScript that the JIT
// compiles once it runs a request per guest, and a run over 1,000 guests peaked ~20 MiB
// higher with it (bench/README.md). Why not fetch: its checkServerIdentity is called only
// when the chain verifies, so it cannot pin a leaf signed by a CA (lib/core/tls.ts).
//
// The pin is compared in the handshake callback of each new connection, before a byte of
// any request is written on it, and a connection whose certificate does not match is
// closed at once.
import type { Socket, SocketHandler } from 'bun';
import { formatHost, type HostPort } from './hosts.ts';
import { encodeRequest, ProtocolError, ResponseReader, type Http1Answer } from './http1.ts';
import { NetworkError } from './net-errors.ts';

interface Conn {
  sock?: Socket<Conn>;
  closed: boolean;
  // what the owner of the connection wants to hear now (opening, a request, idling)
  onHandshake?: (s: Socket<Conn>) => void;
  onData?: (d: Buffer) => void;
  onDrain?: () => void;
  onClose?: (e?: Error) => void;
}

/** An error with where it happened: `phase: 'connect'` means nothing was written. */
type Failure = Error & { code?: string; phase?: string; beforeAnswer?: boolean };
const failure = (message: string, code: string, extra: Partial<Failure> = {}): Failure => Object.assign(new Error(message), { code }, extra);

// one handler object for every connection: each event goes to the connection's owner
const handlers: SocketHandler<Conn> = {
  handshake(s) {
    s.data.onHandshake?.(s);
  },
  data(s, d) {
    if (s.data.onData) s.data.onData(d);
    else {
      // bytes nobody asked for (e.g. a 408 before an idle close): the framing is lost
      s.data.closed = true;
      s.terminate();
      s.data.onClose?.();
    }
  },
  drain(s) {
    s.data.onDrain?.();
  },
  close(s, e) {
    s.data.closed = true;
    s.data.onClose?.(e);
  },
  error(s, e) {
    // a TLS failure on an open connection; the socket closes after this
    s.data.closed = true;
    s.data.onClose?.(e);
  },
  connectError(s, e) {
    s.data.closed = true;
    s.data.onClose?.(e);
  },
};

export class PinnedPool {
  static readonly MAX_CONNECTIONS = 16;
  private readonly key: string;
  private readonly idle: Conn[] = [];
  private readonly all = new Set<Conn>();
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly host: HostPort,
    private readonly pins: string[],
  ) {
    this.key = formatHost(host);
  }

  /**
   * One request. Throws a NetworkError (pin mismatch, malformed answer), or an error with
   * `phase: 'connect'` when nothing was written, or another one after the request was
   * (or may have been) written; lib/core/https.ts turns the last two into NetworkErrors.
   */
  async request(method: string, target: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<Http1Answer> {
    const bytes = encodeRequest(method, target, this.key, headers, body);
    // queued rather than opening more: a handshake per request costs more than waiting
    if (this.active >= PinnedPool.MAX_CONNECTIONS) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await this.send(method, bytes, performance.now() + timeoutMs, timeoutMs);
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  /** Closes every connection, idle or not. */
  destroy(): void {
    for (const c of this.all) {
      c.closed = true;
      c.sock?.terminate();
    }
    this.all.clear();
    this.idle.length = 0;
  }

  private async send(method: string, bytes: Buffer, deadline: number, timeoutMs: number): Promise<Http1Answer> {
    let c = this.idle.pop();
    let reused = c !== undefined;
    for (;;) {
      if (c) c.sock!.ref();
      else c = await this.open(deadline, timeoutMs);
      try {
        const answer = await this.exchange(c, bytes, method, deadline);
        this.release(c, answer.reusable);
        return answer;
      } catch (e: any) {
        this.drop(c, true);
        // A kept-alive connection the server closed before any byte of the answer came
        // (it timed the connection out as we wrote): the server cannot have answered, but
        // it may have read the request first. A GET changes nothing on the server, so it
        // is sent once more on a new connection; any other method may have been carried
        // out, and the caller is told so (sent: true), to decide itself.
        if (e?.beforeAnswer && reused && method === 'GET') {
          c = undefined;
          reused = false;
          continue;
        }
        if (e instanceof ProtocolError) throw new NetworkError(this.key, 'BAD_RESPONSE', `malformed answer: ${e.message}`, { sent: true });
        throw e;
      }
    }
  }

  private open(deadline: number, timeoutMs: number): Promise<Conn> {
    const c: Conn = { closed: false };
    this.all.add(c);
    return new Promise<Conn>((resolve, reject) => {
      const done = (e?: Error) => {
        clearTimeout(timer);
        c.onHandshake = c.onClose = undefined;
        if (!e) return resolve(c);
        this.drop(c, true);
        reject(e);
      };
      const timer = setTimeout(() => done(failure(`no TLS handshake within ${Math.round(timeoutMs / 1000)} s`, 'ETIMEDOUT', { phase: 'connect' })), Math.max(0, deadline - performance.now()));
      c.onHandshake = (s) => {
        c.sock = s;
        const fp = String(s.getPeerCertificate()?.fingerprint256 ?? '').toUpperCase();
        if (!this.pins.includes(fp)) {
          done(new NetworkError(this.key, 'FINGERPRINT_MISMATCH', `certificate fingerprint ${fp || '(none)'} does not match the pinned ${this.pins.join(', ')}; refusing to connect`, { sent: false, failover: false, retryable: false }));
          return;
        }
        done();
      };
      c.onClose = (e?: Failure) => done(Object.assign(e ?? failure('connection closed during the TLS handshake', 'ECONNRESET'), { phase: 'connect' }));
      Bun.connect<Conn>({
        hostname: this.host.host,
        port: this.host.port,
        data: c,
        socket: handlers,
        // verification is the pin comparison above, on this very connection; SNI only
        // for a name (RFC 6066 §3: not for an address)
        tls: { rejectUnauthorized: false, ...(/^[\d.:]+$/.test(this.host.host) ? {} : { serverName: this.host.host }) },
      }).then(
        (s) => {
          c.sock = s;
          // given up on (timed out) before the socket came
          if (c.closed) s.terminate();
        },
        () => {}, // connectError has reported it
      );
    });
  }

  private exchange(c: Conn, bytes: Buffer, method: string, deadline: number): Promise<Http1Answer> {
    return new Promise<Http1Answer>((resolve, reject) => {
      const reader = new ResponseReader(method);
      let rest: Buffer | undefined = bytes;
      const done = (e?: Error, answer?: Http1Answer) => {
        clearTimeout(timer);
        c.onData = c.onDrain = c.onClose = undefined;
        if (e) reject(e);
        else resolve(answer!);
      };
      const timer = setTimeout(() => done(Object.assign(new Error('timeout'), { name: 'TimeoutError' })), Math.max(0, deadline - performance.now()));
      c.onData = (d) => {
        try {
          const answer = reader.push(d);
          if (answer) done(undefined, answer);
        } catch (e: any) {
          done(e);
        }
      };
      c.onClose = (e?: Failure) => {
        if (reader.received === 0) {
          done(failure(e?.message ?? 'connection closed before an answer', e?.code ?? 'ECONNRESET', { beforeAnswer: true }));
          return;
        }
        try {
          // a body delimited by the close ends here (RFC 9112 §6.3, 8.)
          done(undefined, reader.closed());
        } catch (pe: any) {
          done(pe);
        }
      };
      // a TLS socket takes what fits; the rest waits for drain
      const write = () => {
        const n = c.sock!.write(rest!);
        rest = n >= rest!.length ? undefined : rest!.subarray(Math.max(0, n));
        c.onDrain = rest ? write : undefined;
      };
      if (c.closed) done(failure('connection closed before the request was written', 'ECONNRESET', { phase: 'connect', beforeAnswer: true }));
      else write();
    });
  }

  private release(c: Conn, reusable: boolean): void {
    if (!reusable || c.closed) {
      this.drop(c);
      return;
    }
    // an idle connection must not keep the process alive, and goes when the server closes it
    c.sock!.unref();
    c.onClose = () => this.drop(c);
    this.idle.push(c);
  }

  /** Forgets a connection, closing it: gracefully after a complete answer, at once after a failure. */
  private drop(c: Conn, failed = false): void {
    if (!c.closed) {
      c.closed = true;
      if (failed) c.sock?.terminate();
      else c.sock?.end();
    }
    c.onClose = undefined;
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }
}
