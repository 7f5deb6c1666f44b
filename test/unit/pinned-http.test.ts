// The pinned HTTPS transport (lib/core/pinned.ts, lib/core/http1.ts) against real TLS
// servers on loopback: Bun.listen with a certificate made by openssl, answering with
// bytes written by hand (split across packets where it matters), so each framing rule,
// the connection reuse and every error path runs over a real socket.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Socket, TCPSocketListener } from 'bun';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { HttpsEndpoint } from '../../lib/core/https.ts';
import { encodeRequest, MAX_BODY_BYTES, ResponseReader } from '../../lib/core/http1.ts';
import { NetworkError } from '../../lib/core/net-errors.ts';

let dir: string;
let cert: string;
let key: string;
let pin: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pinned-http-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=pve1', '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: dir, stdio: 'ignore' });
  cert = fs.readFileSync(path.join(dir, 'c.pem'), 'utf8');
  key = fs.readFileSync(path.join(dir, 'k.pem'), 'utf8');
  pin = new X509Certificate(cert).fingerprint256.toUpperCase();
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Req {
  head: string;
  body: string;
  /** the request's number on its connection, from 1 */
  nth: number;
  conn: number;
}
type Answer = (s: Socket<ConnState>, req: Req) => void | Promise<void>;
interface ConnState {
  buf: string;
  n: number;
  id: number;
}

/** A TLS server that hands each complete request to `answer`; counts connections and bytes. */
function server(answer: Answer, opts: { tls?: boolean } = {}) {
  const stats = { connections: 0, open: 0, maxOpen: 0, bytes: 0 };
  const listener: TCPSocketListener<ConnState> = Bun.listen<ConnState>({
    hostname: '127.0.0.1',
    port: 0,
    ...(opts.tls === false ? {} : { tls: { cert, key } }),
    socket: {
      open(s) {
        s.data = { buf: '', n: 0, id: ++stats.connections };
        stats.open++;
        stats.maxOpen = Math.max(stats.maxOpen, stats.open);
      },
      data(s, d) {
        stats.bytes += d.length;
        s.data.buf += d.toString('latin1');
        for (;;) {
          const end = s.data.buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = s.data.buf.slice(0, end);
          const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (s.data.buf.length < end + 4 + len) return;
          const body = s.data.buf.slice(end + 4, end + 4 + len);
          s.data.buf = s.data.buf.slice(end + 4 + len);
          void answer(s, { head, body, nth: ++s.data.n, conn: s.data.id });
        }
      },
      close(s) {
        // a client that leaves during the handshake closes a socket never opened
        if (s.data) stats.open--;
      },
    },
  });
  const endpoint = (o: { pins?: string[]; timeoutMs?: number } = {}) =>
    new HttpsEndpoint({ host: { host: '127.0.0.1', port: listener.port }, trust: { fingerprints: o.pins ?? [pin] }, timeoutMs: o.timeoutMs ?? 5_000, untrustedHint: () => '' });
  return { stats, port: listener.port, endpoint, stop: () => listener.stop(true) };
}

/** Writes the pieces one after another, each in its own TLS record, a little apart. */
async function writeApart(s: Socket<ConnState>, pieces: (string | Buffer)[]): Promise<void> {
  for (const p of pieces) {
    s.write(p);
    s.flush();
    await sleep(15);
  }
}

const ok = (body: string, extra = '') => `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

/** What a failing request threw; fails the test if it did not. */
async function failure(p: Promise<unknown>): Promise<NetworkError> {
  const e = await p.then(() => undefined, (err) => err);
  expect(e).toBeInstanceOf(NetworkError);
  return e as NetworkError;
}

describe('answers', () => {
  test('Content-Length body, status text, request framing', async () => {
    const seen: Req[] = [];
    const srv = server((s, r) => {
      seen.push(r);
      s.write('HTTP/1.1 201 Created\r\ncontent-length: 11\r\nX-A: 1\r\n\r\nhello world');
    });
    const ep = srv.endpoint();
    const a = await ep.request('POST', '/api2/json/x?a=1', { Authorization: 'T' }, 'k=v');
    expect(a).toEqual({ status: 201, statusText: 'Created', text: 'hello world' });
    expect(seen[0].head).toStartWith('POST /api2/json/x?a=1 HTTP/1.1\r\nHost: 127.0.0.1:');
    expect(seen[0].head).toContain('\r\nAuthorization: T\r\n');
    expect(seen[0].head).toContain('\r\nContent-Length: 3');
    expect(seen[0].body).toBe('k=v');
    ep.close();
    srv.stop();
  });

  test('chunked body: boundaries inside size lines and data, a UTF-8 character split across packets, extensions, trailers', async () => {
    const euro = Buffer.from('€', 'utf8'); // 3 bytes
    const srv = server((s) =>
      writeApart(s, [
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
        '6\r\nab',
        Buffer.concat([Buffer.from('c'), euro.subarray(0, 1)]),
        Buffer.concat([euro.subarray(1), Buffer.from('\r\n1')]),
        '0;name=x\r\n0123456789abcdef',
        '\r\n0\r\nX-Trailer: t\r\n',
        '\r\n',
      ]),
    );
    const ep = srv.endpoint();
    // chunk 1: 6 bytes, "abc€", the € cut after its first and third byte; chunk 2: 0x10
    // bytes, its size line cut in two
    const a = await ep.request('GET', '/', {});
    expect(a.text).toBe('abc€0123456789abcdef');
    ep.close();
    srv.stop();
  });

  test('a body delimited by the close (neither Content-Length nor chunked); the connection is not reused', async () => {
    const srv = server(async (s) => {
      await writeApart(s, ['HTTP/1.1 200 OK\r\n\r\nfirst ', 'part ', Buffer.from([0xc3]), Buffer.from([0xa9])]);
      s.end();
    });
    const ep = srv.endpoint();
    expect((await ep.request('GET', '/', {})).text).toBe('first part é');
    expect((await ep.request('GET', '/', {})).text).toBe('first part é');
    expect(srv.stats.connections).toBe(2);
    ep.close();
    srv.stop();
  });

  test('interim answers (100 Continue, 103 Early Hints) are skipped', async () => {
    const srv = server((s) => writeApart(s, ['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n', ok('{"data":1}')]));
    const ep = srv.endpoint();
    const a = await ep.request('POST', '/', {}, 'x');
    expect(a).toEqual({ status: 200, statusText: 'OK', text: '{"data":1}' });
    ep.close();
    srv.stop();
  });
});

describe('connections', () => {
  test('keep-alive: sequential requests share one connection; Connection: close ends it', async () => {
    const srv = server((s, r) => void s.write(ok(`${r.conn}/${r.nth}`, r.nth === 5 ? 'Connection: close\r\n' : '')));
    const ep = srv.endpoint();
    const got: string[] = [];
    for (let i = 0; i < 7; i++) got.push((await ep.request('GET', `/${i}`, {})).text);
    expect(got).toEqual(['1/1', '1/2', '1/3', '1/4', '1/5', '2/1', '2/2']);
    expect(srv.stats.connections).toBe(2);
    ep.close();
    srv.stop();
  });

  test('at most 16 connections: 40 parallel requests queue for them', async () => {
    const srv = server(async (s, r) => {
      await sleep(40);
      s.write(ok(r.head.split(' ')[1]));
    });
    const ep = srv.endpoint();
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => ep.request('GET', `/${i}`, {})));
    expect(answers.map((a) => a.text)).toEqual(Array.from({ length: 40 }, (_, i) => `/${i}`));
    expect(srv.stats.connections).toBe(16);
    expect(srv.stats.maxOpen).toBe(16);
    ep.close();
    srv.stop();
  });

  test('the server closes an idle connection: the next request opens a new one', async () => {
    const srv = server(async (s) => {
      s.write(ok('x'));
      await sleep(20);
      s.end();
    });
    const ep = srv.endpoint();
    await ep.request('GET', '/', {});
    await sleep(150);
    expect((await ep.request('POST', '/', {}, 'a')).text).toBe('x');
    expect(srv.stats.connections).toBe(2);
    ep.close();
    srv.stop();
  });

  test('answered before the whole request was written (413 to a large body): that connection is not used again', async () => {
    let conns = 0;
    const early = Bun.listen<{ answered: boolean }>({
      hostname: '127.0.0.1',
      port: 0,
      tls: { cert, key },
      socket: {
        open(s) {
          conns++;
          s.data = { answered: false };
        },
        // the first bytes of each connection get the answer; the rest is read and ignored
        data(s) {
          if (s.data.answered) return;
          s.data.answered = true;
          s.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n');
        },
      },
    });
    const ep = new HttpsEndpoint({ host: { host: '127.0.0.1', port: early.port }, trust: { fingerprints: [pin] }, timeoutMs: 3_000, untrustedHint: () => '' });
    expect((await ep.request('POST', '/', {}, 'x'.repeat(8 << 20))).status).toBe(413);
    expect((await ep.request('GET', '/', {})).status).toBe(413);
    expect(conns).toBe(2);
    ep.close();
    early.stop(true);
  });

  // The server takes the second request on a connection and closes it unanswered, as a
  // server does whose keep-alive timeout ran out just as the request came.
  const closesSecond = () => server((s, r) => (r.nth === 1 ? void s.write(ok(`conn ${r.conn}`)) : void s.end()));

  test('closed unanswered on a reused connection: a GET is sent again on a new one', async () => {
    const srv = closesSecond();
    const ep = srv.endpoint();
    expect((await ep.request('GET', '/', {})).text).toBe('conn 1');
    expect((await ep.request('GET', '/', {})).text).toBe('conn 2');
    expect(srv.stats.connections).toBe(2);
    ep.close();
    srv.stop();
  });

  test('closed unanswered on a reused connection: a POST is not sent again, and may have arrived (sent: true)', async () => {
    const srv = closesSecond();
    const ep = srv.endpoint();
    await ep.request('GET', '/', {});
    const e = await failure(ep.request('POST', '/', {}, 'create'));
    expect(e.sent).toBe(true);
    expect(srv.stats.connections).toBe(1);
    ep.close();
    srv.stop();
  });
});

test('SNI: the host name is sent for a name, not for an address', async () => {
  const names: unknown[] = [];
  const srv = tls.createServer({ cert, key }, (sock) => {
    names.push(sock.servername);
    sock.on('data', () => sock.write(ok('sni')));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  for (const host of ['localhost', '127.0.0.1']) {
    const ep = new HttpsEndpoint({ host: { host, port }, trust: { fingerprints: [pin] }, timeoutMs: 5_000, untrustedHint: () => '' });
    expect((await ep.request('GET', '/', {})).text).toBe('sni');
    ep.close();
  }
  expect(names).toEqual(['localhost', false]);
  srv.close();
});

describe('errors', () => {
  test('pin mismatch: FINGERPRINT_MISMATCH, and the server received not one byte', async () => {
    const srv = server((s) => void s.write(ok('no')));
    const ep = srv.endpoint({ pins: ['AA:' + pin.slice(3)] });
    const e = await failure(ep.request('GET', '/secret', { Authorization: 'PVEAPIToken=x' }));
    expect([e.code, e.sent, e.failover, e.retryable]).toEqual(['FINGERPRINT_MISMATCH', false, false, false]);
    expect(e.message).toContain(pin);
    await sleep(50);
    expect(srv.stats.bytes).toBe(0);
    expect(srv.stats.open).toBe(0);
    ep.close();
    srv.stop();
  });

  test('connection refused: not sent', async () => {
    const srv = server(() => {});
    const ep = srv.endpoint();
    srv.stop();
    await sleep(20);
    const e = await failure(ep.request('POST', '/', {}, 'x'));
    expect(e.sent).toBe(false);
    expect(e.failover).toBe(true);
    expect(e.message).toContain('connection refused');
  });

  test('no answer in time: TIMEOUT, sent', async () => {
    const srv = server(() => {});
    const ep = srv.endpoint({ timeoutMs: 300 });
    const started = performance.now();
    const e = await failure(ep.request('GET', '/', {}));
    expect([e.code, e.sent]).toEqual(['TIMEOUT', true]);
    expect(performance.now() - started).toBeLessThan(2_000);
    ep.close();
    srv.stop();
  });

  test('no TLS handshake in time (a server that never speaks): not sent', async () => {
    const srv = server(() => {}, { tls: false });
    const ep = srv.endpoint({ timeoutMs: 300 });
    const e = await failure(ep.request('POST', '/', {}, 'x'));
    expect(e.sent).toBe(false);
    expect(e.message).toContain('no TLS handshake');
    ep.close();
    srv.stop();
  });

  test('a server that does not speak TLS: a TLS failure as Node names it, not a pin mismatch', async () => {
    const plain = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data: (s) => void s.end('HTTP/1.1 400 Bad Request\r\n\r\n') } });
    const ep = new HttpsEndpoint({ host: { host: '127.0.0.1', port: plain.port }, trust: { fingerprints: [pin] }, timeoutMs: 3_000, untrustedHint: () => '' });
    const e = await failure(ep.request('GET', '/', {}));
    expect([e.code, e.sent, e.failover]).toEqual(['ERR_SSL_WRONG_VERSION_NUMBER', false, true]);
    expect(e.message).toContain('TLS certificate not trusted');
    ep.close();
    plain.stop(true);
  });

  // The server's certificate (the pinned one) came, then the handshake failed: here the
  // server wants a client certificate (TLS 1.2, so before the client's Finished); a
  // machine in the middle that shows the pinned certificate without its key fails the
  // same way. There is no connection to pin: nothing was sent, and the error says TLS.
  test('a handshake that fails after the pinned certificate came: a TLS failure, not sent', async () => {
    let bytes = 0;
    const srv = tls.createServer({ cert, key, requestCert: true, rejectUnauthorized: true, maxVersion: 'TLSv1.2' }, (sock) => sock.on('data', (d) => (bytes += d.length)));
    srv.on('tlsClientError', () => {});
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const ep = new HttpsEndpoint({ host: { host: '127.0.0.1', port: (srv.address() as { port: number }).port }, trust: { fingerprints: [pin] }, timeoutMs: 3_000, untrustedHint: () => '' });
    const e = await failure(ep.request('POST', '/', {}, 'create'));
    expect([e.code, e.sent, e.failover, e.retryable]).toEqual(['ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', false, true, false]);
    expect(e.message).toContain('TLS certificate not trusted');
    expect(bytes).toBe(0);
    ep.close();
    srv.close();
  });

  test.each([
    ['a header section that never ends (70 KiB of fields)', ['HTTP/1.1 200 OK\r\n', ...Array.from({ length: 70 }, (_, i) => `X-${i}: ${'a'.repeat(1018)}\r\n`)], 'header section over 64 KiB'],
    ['a chunk-size line that is not hex', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'zz\r\nab\r\n0\r\n\r\n'], 'bad chunk size'],
    ['a chunk longer than its size', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', '2\r\nabc\r\n0\r\n\r\n'], 'chunk data longer'],
    ['two different Content-Lengths', ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc'], 'bad Content-Length'],
    ['a status line that is not HTTP', ['SSH-2.0-OpenSSH\r\n\r\n'], 'bad status line'],
    ['a gzip transfer coding', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'], 'unsupported transfer coding'],
    ['a body cut short by the close', ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', null], 'before the end of the body'],
  ])('%s: one malformed-answer error, sent, no hang', async (_name, pieces, detail) => {
    const srv = server(async (s) => {
      for (const p of pieces) {
        if (p === null) s.end();
        else s.write(p);
        await sleep(2);
      }
    });
    const ep = srv.endpoint({ timeoutMs: 3_000 });
    const e = await failure(ep.request('GET', '/', {}));
    expect(e.code).toBe('BAD_RESPONSE');
    expect(e.sent).toBe(true);
    expect(e.message).toContain(detail);
    ep.close();
    srv.stop();
  });

  test('a header value with a newline is refused before anything is sent', async () => {
    const srv = server((s) => void s.write(ok('x')));
    const ep = srv.endpoint();
    await expect(ep.request('GET', '/', { 'X-A': 'a\r\nX-Injected: 1' })).rejects.toThrow('invalid character in header X-A');
    expect(srv.stats.connections).toBe(0);
    ep.close();
    srv.stop();
  });
});

// The reader on its own: any answer gives the same result however its bytes are cut.
describe('ResponseReader', () => {
  const cases: [string, string, string, number, boolean][] = [
    ['Content-Length', 'GET', 'HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nhé €', 200, true],
    ['chunked, trailer', 'GET', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhé\r\n4;x=y\r\n €\r\n0\r\nT: 1\r\n\r\n', 200, true],
    ['HEAD ignores Content-Length', 'HEAD', 'HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n', 200, true],
    ['204 has no body', 'DELETE', 'HTTP/1.1 204 No Content\r\n\r\n', 204, true],
    ['Connection: close', 'GET', 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok', 200, false],
    ['HTTP/1.0 without keep-alive', 'GET', 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', 200, false],
    ['bare LF, folded field, no reason phrase', 'GET', 'HTTP/1.1 404\nX-A: a\n  b\nContent-Length: 1\n\nx', 404, true],
    ['interim 100 first', 'GET', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx', 200, true],
  ];
  const expected: Record<string, string> = { 'Content-Length': 'hé €', 'chunked, trailer': 'hé €', 'HEAD ignores Content-Length': '', '204 has no body': '', 'Connection: close': 'ok', 'HTTP/1.0 without keep-alive': 'ok', 'bare LF, folded field, no reason phrase': 'x', 'interim 100 first': 'x' };
  test.each(cases)('%s, cut at every byte', (name, method, raw, status, reusable) => {
    const bytes = Buffer.from(raw, 'utf8');
    for (let cut = 0; cut <= bytes.length; cut++) {
      const r = new ResponseReader(method);
      const first = r.push(bytes.subarray(0, cut));
      const a = first ?? r.push(bytes.subarray(cut));
      expect(a && { status: a.status, text: a.text, reusable: a.reusable }).toEqual({ status, text: expected[name], reusable });
    }
  });
});

describe('ResponseReader refuses', () => {
  test.each([
    ['space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx', 'bad header line'],
    ['a field name that is not a token', 'HTTP/1.1 200 OK\r\nX(y): 1\r\n\r\n', 'bad header line'],
    ['a continuation before any field', 'HTTP/1.1 200 OK\r\n folded\r\n\r\n', 'continuation line before any field'],
    ['HTTP/2 framing', 'HTTP/2 200\r\n\r\n', 'bad status line'],
    ['101 never asked for', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n', 'unexpected status 101'],
    ['a negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'bad Content-Length'],
    ['a chunk size of 14 hex digits', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000\r\n', 'bad chunk size'],
  ])('%s', (_name, raw, detail) => {
    expect(() => new ResponseReader('GET').push(Buffer.from(raw, 'latin1'))).toThrow(detail);
  });

  // an answer that never ends is cut at the bound, whatever its framing, rather than kept
  // in memory until the timeout
  test.each([
    ['Content-Length announced over the bound', `HTTP/1.1 200 OK\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n`, 'A'],
    ['endless chunks', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', '100000\r\n' + 'A'.repeat(0x100000) + '\r\n'],
    ['endless body delimited by the close', 'HTTP/1.1 200 OK\r\n\r\n', 'A'.repeat(0x100000)],
  ])('%s', (_name, head, piece) => {
    const r = new ResponseReader('GET');
    const bytes = Buffer.from(piece, 'latin1');
    let sent = 0;
    const endless = () => {
      r.push(Buffer.from(head, 'latin1'));
      for (; sent <= MAX_BODY_BYTES + bytes.length; sent += bytes.length) r.push(bytes);
    };
    expect(endless).toThrow('body over');
    expect(sent).toBeLessThanOrEqual(MAX_BODY_BYTES + bytes.length);
  });

  test('a folded Connection field counts, names without case', () => {
    const a = new ResponseReader('GET').push(Buffer.from('HTTP/1.1 200 OK\r\nCONNECTION: keep-alive,\r\n close\r\ncontent-LENGTH: 1\r\n\r\nx', 'latin1'));
    expect(a && [a.text, a.reusable]).toEqual(['x', false]);
  });
});

// RFC 9110 §8.6: a length only where the method gives content a meaning or content is sent
describe('request framing: Content-Length', () => {
  test.each([
    ['GET', undefined, null],
    ['DELETE', undefined, null],
    ['POST', undefined, '0'],
    ['PUT', undefined, '0'],
    ['POST', 'a=1', '3'],
    ['POST', 'ü', '2'],
  ] as [string, string | undefined, string | null][])('%s with body %p: Content-Length %p', (method, body, want) => {
    const head = encodeRequest(method, '/x', 'h', {}, body).toString('utf8');
    expect(/\r\nContent-Length: (\d+)\r\n/.exec(head)?.[1] ?? null).toBe(want);
  });
});
