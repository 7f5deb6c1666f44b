// Requests to a host whose certificate is pinned: HTTP/1.1 (lib/core/http1.ts) over bun's
// own TLS sockets (Bun.connect), kept alive, at most MAX_CONNECTIONS at a time.
//
// Why not node:http with a TLS agent, as before: its client is JavaScript that the JIT
// compiles once it runs a request per guest; with it, status over 1,000 guests peaked
// 7 MiB higher and snap --dry-run 19 MiB (bench/README.md). Why not fetch: its
// checkServerIdentity is called only when the chain verifies, so it cannot pin a leaf
// signed by a CA (lib/core/tls.ts).
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
  // while opening: the handshake's outcome
  opened?: (e?: Failure) => void;
  // while a request is on it: its answer so far, the bytes not written yet, its outcome
  reader?: ResponseReader;
  rest?: Buffer;
  settle?: (e?: Failure, answer?: Http1Answer) => void;
  // while idle: forget it when the server closes it
  onIdleClose?: () => void;
}

/** An error with where it happened: `phase: 'connect'` means nothing was written. */
type Failure = Error & { code?: string; phase?: string; beforeAnswer?: boolean };
const failure = (message: string, code: string, extra: Partial<Failure> = {}): Failure => Object.assign(new Error(message), { code }, extra);

// One handler object for every connection; each event goes to what the connection is
// doing now (its state is on the connection, not in closures made per request).
const handlers: SocketHandler<Conn> = {
  handshake(s, _authorized, authError: Failure | null) {
    s.data.sock = s;
    // With verification off, an error here is the unverified chain (ignored: the pin
    // decides), or a handshake that failed: then there is no connection to pin, even when
    // the certificate came first (an alert after it, the pinned certificate shown by one
    // without its key). bun reports a failure as EPROTO with OpenSSL's text, a chain as
    // the X509 reason; its second argument is false for a chain not verified against a
    // name too, so it cannot tell them apart (measured, 1.4.5).
    const failed = authError && (authError.code === 'EPROTO' || /SSL routines/.test(authError.message) || !s.getPeerCertificate()?.fingerprint256);
    if (failed) s.data.opened?.(handshakeFailure(authError));
    else s.data.opened?.();
  },
  data(s, d) {
    const c = s.data;
    if (!c.reader) {
      // bytes nobody asked for (e.g. a 408 before an idle close): the framing is lost
      c.closed = true;
      s.terminate();
      c.onIdleClose?.();
      return;
    }
    let answer: Http1Answer | undefined;
    try {
      answer = c.reader.push(d);
    } catch (e: any) {
      c.settle!(e);
      return;
    }
    if (answer) c.settle!(undefined, answer);
  },
  drain(s) {
    if (s.data.rest) writeRest(s.data);
  },
  close(s, e) {
    ended(s.data, e);
  },
  // a TLS failure on an open connection (the socket closes after it), or no connection
  error(s, e) {
    ended(s.data, e);
  },
  connectError(s, e) {
    ended(s.data, e);
  },
};

/** A failed handshake as Node's TLS names it (ERR_SSL_...), so that it reads as a TLS failure. */
function handshakeFailure(e: Failure): Failure {
  const reason = /SSL routines:[^:]*:(\w+)/.exec(e.message)?.[1];
  return Object.assign(e, { code: reason ? `ERR_SSL_${reason}` : (e.code ?? 'ERR_SSL_HANDSHAKE'), phase: 'connect' });
}

function ended(c: Conn, e?: Failure): void {
  if (c.closed && !c.opened && !c.settle) return;
  c.closed = true;
  if (c.opened) c.opened(Object.assign(e ?? failure('connection closed during the TLS handshake', 'ECONNRESET'), { phase: 'connect' }));
  else if (c.settle) {
    if (c.reader!.received === 0) {
      c.settle(failure(e?.message ?? 'connection closed before an answer', e?.code ?? 'ECONNRESET', { beforeAnswer: true }));
      return;
    }
    let answer: Http1Answer;
    try {
      // a body delimited by the close ends here (RFC 9112 §6.3, 8.)
      answer = c.reader!.closed();
    } catch (pe: any) {
      c.settle(pe);
      return;
    }
    c.settle(undefined, answer);
  } else c.onIdleClose?.();
}

// a TLS socket takes what fits; the rest waits for drain
function writeRest(c: Conn): void {
  const n = c.sock!.write(c.rest!);
  c.rest = n >= c.rest!.length ? undefined : c.rest!.subarray(Math.max(0, n));
}

const timedOut = Object.assign(new Error('timeout'), { name: 'TimeoutError' });

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
    const deadline = performance.now() + timeoutMs;
    let c = this.idle.pop();
    let reused = c !== undefined;
    try {
      for (;;) {
        if (c) {
          c.onIdleClose = undefined;
          c.sock!.ref();
        } else c = await this.open(deadline, timeoutMs);
        try {
          const answer = await exchange(c, bytes, method, deadline);
          this.release(c, answer.reusable);
          return answer;
        } catch (e: any) {
          this.drop(c, true);
          // A kept-alive connection the server closed before any byte of the answer came
          // (it timed the connection out as we wrote): the server cannot have answered,
          // but it may have read the request first. A GET changes nothing on the server,
          // so it is sent once more on a new connection; any other method may have been
          // carried out, and the caller is told so (sent: true), to decide itself.
          if (e?.beforeAnswer && reused && method === 'GET') {
            c = undefined;
            reused = false;
            continue;
          }
          if (e instanceof ProtocolError) throw new NetworkError(this.key, 'BAD_RESPONSE', `malformed answer: ${e.message}`, { sent: true });
          throw e;
        }
      }
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

  private open(deadline: number, timeoutMs: number): Promise<Conn> {
    const c: Conn = { closed: false };
    this.all.add(c);
    return new Promise<Conn>((resolve, reject) => {
      const timer = setTimeout(() => c.opened?.(failure(`no TLS handshake within ${Math.round(timeoutMs / 1000)} s`, 'ETIMEDOUT', { phase: 'connect' })), Math.max(0, deadline - performance.now()));
      c.opened = (e?: Failure) => {
        clearTimeout(timer);
        c.opened = undefined;
        // the pin, compared before a byte of any request is written on this connection
        const fp = e ? '' : String(c.sock!.getPeerCertificate()?.fingerprint256 ?? '').toUpperCase();
        if (!e && !this.pins.includes(fp)) {
          e = new NetworkError(this.key, 'FINGERPRINT_MISMATCH', `certificate fingerprint ${fp || '(none)'} does not match the pinned ${this.pins.join(', ')}; refusing to connect`, { sent: false, failover: false, retryable: false });
        }
        if (!e) return resolve(c);
        this.drop(c, true);
        reject(e);
      };
      let connecting: Promise<Socket<Conn>>;
      try {
        connecting = Bun.connect<Conn>({
          hostname: this.host.host,
          port: this.host.port,
          data: c,
          socket: handlers,
          // verification is the pin comparison above, on this very connection. SNI only
          // for a name (RFC 6066 §3: not for an address; an IPv6 one holds a colon): bun
          // sends the hostname, an address too, unless the name is '' (measured, 1.4.5)
          tls: { rejectUnauthorized: false, serverName: /^[\d.]+$/.test(this.host.host) || this.host.host.includes(':') ? '' : this.host.host },
        });
      } catch (e: any) {
        c.opened(Object.assign(e, { phase: 'connect' }));
        return;
      }
      connecting.then(
        (s) => {
          c.sock = s;
          // given up on (timed out) before the socket came
          if (c.closed) s.terminate();
        },
        () => {}, // connectError has reported it
      );
    });
  }

  private release(c: Conn, reusable: boolean): void {
    if (!reusable || c.closed) {
      this.drop(c);
      return;
    }
    // an idle connection must not keep the process alive, and goes when the server closes it
    c.sock!.unref();
    c.onIdleClose = () => this.drop(c);
    this.idle.push(c);
  }

  /** Forgets a connection, closing it: gracefully after a complete answer, at once after a failure. */
  private drop(c: Conn, failed = false): void {
    if (!c.closed) {
      c.closed = true;
      if (failed) c.sock?.terminate();
      else c.sock?.end();
    }
    c.onIdleClose = undefined;
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }
}

/** Writes the request on the connection and waits for its answer until the deadline. */
function exchange(c: Conn, bytes: Buffer, method: string, deadline: number): Promise<Http1Answer> {
  return new Promise<Http1Answer>((resolve, reject) => {
    if (c.closed) {
      reject(failure('connection closed before the request was written', 'ECONNRESET', { phase: 'connect', beforeAnswer: true }));
      return;
    }
    c.reader = new ResponseReader(method);
    c.settle = (e?: Failure, answer?: Http1Answer) => {
      clearTimeout(timer);
      // answered before the whole request was written: the rest would be read as the
      // start of the next request, so the connection is not used again
      if (answer && c.rest) answer.reusable = false;
      c.reader = c.settle = c.rest = undefined;
      if (e) reject(e);
      else resolve(answer!);
    };
    const timer = setTimeout(c.settle, Math.max(0, deadline - performance.now()), timedOut);
    c.rest = bytes;
    writeRest(c);
  });
}
