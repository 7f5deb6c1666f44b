// HTTP/1.1 on the wire for the pinned transport (lib/core/pinned.ts): a request's bytes,
// and an answer read from bytes as they arrive. The rules are RFC 9112's (section numbers
// below); what a client may not need (pipelining, upgrades, transfer codings other than
// chunked) is refused as malformed rather than half supported. The header section itself
// is read by lib/core/http1-head.ts.
import { parseHead, ProtocolError, type Head } from './http1-head.ts';

export { ProtocolError };

/** A request that cannot be written as asked (a header value with a newline, ...): the caller's error. */
export class InvalidRequest extends TypeError {
  override name = 'InvalidRequest';
}

export interface Http1Answer {
  status: number;
  statusText: string;
  text: string;
  /** whether the connection may carry another request (RFC 9112 §9.3) */
  reusable: boolean;
}

/** Header section (status line and fields) at most this long: a hostile server cannot make us buffer more. */
export const MAX_HEAD_BYTES = 64 * 1024;
/**
 * Body at most this long. The largest answer asked for is a cluster's resource list, a
 * few hundred bytes per guest (5 MB for 10,000 guests); without a bound a server that
 * never stops sending would have the whole answer kept in memory until the request's
 * timeout, at the speed of the link (1.5 GB in 10 s over loopback), and the process
 * killed for its memory rather than told the answer is bad.
 */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;
// a chunk-size line with its extensions (RFC 9112 §7.1.1 sets no limit; ours is generous)
const MAX_CHUNK_LINE = 4096;
// interim answers before the final one (RFC 9110 §15.2: a client must parse them)
const MAX_INTERIM = 16;
// RFC 9110 §5.6.2
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The bytes of one request. Header names must be tokens and values free of CR, LF and
 * NUL (RFC 9110 §5.5): a value that could end the field would let it add fields or a
 * request of its own.
 */
export function encodeRequest(method: string, target: string, host: string, headers: Record<string, string>, body: string | undefined): Buffer {
  if (!TOKEN.test(method)) throw new InvalidRequest(`invalid HTTP method ${JSON.stringify(method)}`);
  // RFC 9112 §3.2: origin-form, no spaces or controls
  if (!/^\/[\x21-\x7e]*$/.test(target)) throw new InvalidRequest(`invalid request target ${JSON.stringify(target.slice(0, 80))}`);
  let head = `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name)) throw new InvalidRequest(`invalid header name ${JSON.stringify(name)}`);
    if (/[\r\n\0]/.test(value)) throw new InvalidRequest(`invalid character in header ${name}`);
    // framing and the connection are the transport's own
    if (/^(host|content-length|transfer-encoding|connection)$/i.test(name)) continue;
    head += `${name}: ${value}\r\n`;
  }
  // RFC 9112 §9.3: persistent is HTTP/1.1's default; said anyway, as Node's client does
  head += 'Connection: keep-alive\r\n';
  // RFC 9110 §8.6: a request whose method expects content and has none says Content-Length: 0;
  // one whose method gives content no meaning (GET, HEAD, DELETE) sends no length at all
  if (body !== undefined) head += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  else if (method === 'POST' || method === 'PUT' || method === 'PATCH') head += 'Content-Length: 0\r\n';
  return Buffer.from(`${head}\r\n${body ?? ''}`, 'utf8');
}

type State = 'head' | 'length' | 'size' | 'data' | 'data-end' | 'trailers' | 'close' | 'done';

/**
 * One answer read from the bytes of a connection as they come. push() returns it once
 * complete; closed() when the connection ends (a body delimited by the close then ends
 * there; anything else unfinished is an error). Body bytes are kept as they came and
 * decoded as UTF-8 once, at the end, so a character split across packets survives.
 */
export class ResponseReader {
  /** bytes received so far, interim answers included */
  received = 0;
  private state: State = 'head';
  // unconsumed bytes of a line-oriented phase (head, chunk-size line, trailers)
  private pending?: Buffer;
  private head?: Head;
  private reusable = false;
  private body: Buffer[] = [];
  private bodyBytes = 0;
  private remaining = 0;
  private lineBytes = 0;
  private interim = 0;

  constructor(private readonly method: string) {}

  push(data: Buffer): Http1Answer | undefined {
    this.received += data.length;
    const buf = this.pending ? Buffer.concat([this.pending, data]) : data;
    this.pending = undefined;
    let at = 0;
    for (;;) {
      if (this.state === 'done') {
        // bytes after the answer: nothing was asked for them, so the framing is in doubt
        if (at < buf.length) this.reusable = false;
        return this.answer();
      }
      if (this.state === 'length' || this.state === 'data') {
        const take = Math.min(this.remaining, buf.length - at);
        if (take > 0) this.keep(buf.subarray(at, at + take));
        at += take;
        this.remaining -= take;
        if (this.remaining > 0) return undefined;
        this.state = this.state === 'length' ? 'done' : 'data-end';
        continue;
      }
      if (this.state === 'close') {
        if (at < buf.length) this.keep(buf.subarray(at));
        return undefined;
      }
      if (this.state === 'head') {
        const end = headEnd(buf, at);
        if (end < 0 || end - at > MAX_HEAD_BYTES) {
          if (end >= 0 || buf.length - at > MAX_HEAD_BYTES) throw new ProtocolError(`header section over ${MAX_HEAD_BYTES / 1024} KiB`);
          this.pending = buf.subarray(at);
          return undefined;
        }
        this.startAnswer(parseHead(buf, at, end));
        at = end + (buf[end + 1] === 10 ? 2 : 3);
        continue;
      }
      // the line-oriented states of a chunked body
      const nl = buf.indexOf(10, at);
      const limit = this.state === 'trailers' ? MAX_HEAD_BYTES : MAX_CHUNK_LINE;
      if (nl < 0) {
        if (this.lineBytes + buf.length - at > limit) throw new ProtocolError(this.state === 'trailers' ? 'trailer section too long' : 'chunk-size line too long');
        this.pending = buf.subarray(at);
        return undefined;
      }
      const line = buf.toString('latin1', at, nl > at && buf[nl - 1] === 13 ? nl - 1 : nl);
      this.lineBytes += nl + 1 - at;
      if (this.lineBytes > limit) throw new ProtocolError(this.state === 'trailers' ? 'trailer section too long' : 'chunk-size line too long');
      at = nl + 1;
      this.chunkLine(line);
    }
  }

  /** The connection ended: the answer, if it was complete or ends with the close. */
  closed(): Http1Answer {
    if (this.state === 'close') {
      this.state = 'done';
      return this.answer();
    }
    if (this.state === 'done') return this.answer();
    throw new ProtocolError(this.state === 'head' ? (this.received ? 'connection closed inside the header section' : 'connection closed before an answer') : 'connection closed before the end of the body');
  }

  private keep(b: Buffer): void {
    this.bodyBytes += b.length;
    if (this.bodyBytes > MAX_BODY_BYTES) throw new ProtocolError(`body over ${MAX_BODY_BYTES / 1024 / 1024} MiB`);
    this.body.push(b);
  }

  private answer(): Http1Answer {
    const h = this.head!;
    const bytes = this.body.length === 1 ? this.body[0] : Buffer.concat(this.body, this.bodyBytes);
    this.body = [];
    return { status: h.status, statusText: h.statusText, text: bytes.toString('utf8'), reusable: this.reusable && this.state === 'done' };
  }

  // RFC 9112 §7.1: chunk-size [chunk-ext] CRLF chunk-data CRLF, ..., last-chunk,
  // trailer-section CRLF
  private chunkLine(line: string): void {
    if (this.state === 'data-end') {
      if (line !== '') throw new ProtocolError('chunk data longer than its size');
      this.state = 'size';
      this.lineBytes = 0;
      return;
    }
    if (this.state === 'trailers') {
      // §7.1.2: trailer fields may be discarded; none is used here
      if (line === '') this.state = 'done';
      return;
    }
    // §7.1.1: chunk extensions after ";" are ignored; chunk-size = 1*HEXDIG (13 digits
    // stay an exact integer)
    const m = /^([0-9A-Fa-f]{1,13})[ \t]*(?:;.*)?$/.exec(line);
    if (!m) throw new ProtocolError(`bad chunk size ${JSON.stringify(line.slice(0, 40))}`);
    this.remaining = parseInt(m[1], 16);
    this.lineBytes = 0;
    this.state = this.remaining === 0 ? 'trailers' : 'data';
  }

  private startAnswer(head: Head): void {
    const status = head.status;
    if (status < 200) {
      // RFC 9110 §15.2: interim answers (100 Continue, 103 Early Hints) come before the
      // final one; 101 would switch protocols, which was never asked for
      if (status === 101 || status < 100) throw new ProtocolError(`unexpected status ${status}`);
      if (++this.interim > MAX_INTERIM) throw new ProtocolError('too many interim answers');
      return;
    }
    // RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive"
    const conn = head.connection === undefined ? [] : head.connection.toLowerCase().split(',').map((s) => s.trim());
    this.reusable = head.minor === 1 ? !conn.includes('close') : conn.includes('keep-alive');
    this.head = head;
    this.framing(head);
  }

  // RFC 9112 §6.3, message body length, in its order
  private framing({ status, transferEncoding: te, contentLength: cl }: Head): void {
    if (this.method === 'HEAD' || status === 204 || status === 304) {
      // 1. no body, whatever the fields say
      this.state = 'done';
    } else if (te !== undefined) {
      // 3. Transfer-Encoding overrides Content-Length; both is a smuggling sign, so the
      // connection is not used again. Only chunked is understood (none other is asked for)
      const codings = te.toLowerCase().split(',').map((s) => s.trim()).filter(Boolean);
      if (codings.length !== 1 || codings[0] !== 'chunked') throw new ProtocolError(`unsupported transfer coding ${JSON.stringify(te.slice(0, 40))}`);
      if (cl !== undefined) this.reusable = false;
      this.state = 'size';
    } else if (cl !== undefined) {
      // 4./5. an invalid Content-Length: the user agent must close and discard; the same
      // value repeated (RFC 9110 §8.6) is accepted
      const values = new Set(cl.split(',').map((s) => s.trim()));
      const [v] = values;
      if (values.size !== 1 || !/^\d{1,15}$/.test(v)) throw new ProtocolError(`bad Content-Length ${JSON.stringify(cl.slice(0, 40))}`);
      this.remaining = Number(v);
      // announced too long: refused before a byte of it is kept
      if (this.remaining > MAX_BODY_BYTES) throw new ProtocolError(`body over ${MAX_BODY_BYTES / 1024 / 1024} MiB (Content-Length ${v})`);
      this.state = this.remaining === 0 ? 'done' : 'length';
    } else {
      // 8. a response with neither: the body ends when the server closes
      this.reusable = false;
      this.state = 'close';
    }
  }
}

const LF_CRLF = Buffer.from('\n\r\n');
const LF_LF = Buffer.from('\n\n');

/**
 * Index of the LF that ends a header section's last line (followed by CRLF, or by a bare
 * LF, RFC 9112 §2.2), or -1. Two native searches rather than a loop over the lines.
 */
function headEnd(buf: Buffer, from: number): number {
  const crlf = buf.indexOf(LF_CRLF, from);
  const lf = buf.indexOf(LF_LF, from);
  return crlf < 0 ? lf : lf < 0 ? crlf : Math.min(crlf, lf);
}
