// The header section of an HTTP/1.1 answer (RFC 9112 §4, §5), read from the bytes as they
// are: only the status and the three fields that frame the body and the connection become
// strings. An answer per guest is read in a large run, and each string made per field
// would be garbage whose characters are allocated outside the collected heap (see
// bench/README.md: they pile up as memory until a collection runs).

/** An answer that breaks the framing rules: the connection cannot be trusted any more. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

export interface Head {
  /** minor version: 1 for HTTP/1.1, 0 for HTTP/1.0 */
  minor: number;
  status: number;
  statusText: string;
  contentLength?: string;
  transferEncoding?: string;
  connection?: string;
}

// §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]; the SP before an
// empty reason is often left out, so it is optional here
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: ([^\r\n]*))?\r?\n/;
// §5: field-line = field-name ":" OWS field-value OWS, the name a token (RFC 9110 §5.6.2),
// no whitespace before the colon (§5.1); or an obs-fold continuation line (§5.2)
const FIELD_LINES = /^(?:(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:|[ \t])[^\r\n]*\r?\n)*$/;
const OBS_FOLD = /\r?\n[ \t]+/g;
// the fields kept, names without case (RFC 9110 §5.1)
const KEPT = /^(content-length|transfer-encoding|connection):[ \t]*([^\r\n]*?)[ \t]*\r?$/gim;
const KEY = { 'content-length': 'contentLength', 'transfer-encoding': 'transferEncoding', connection: 'connection' } as const;

/**
 * The header section in buf[start, end]: the status line and the field lines, each ended
 * by CRLF or a bare LF (RFC 9112 §2.2), `end` the index of the last line's LF. A few
 * regular expressions over one string, rather than code per line or per byte: this runs
 * once per answer, and every function that runs that often is compiled by the JIT, which
 * measurably costs more memory than the string.
 */
export function parseHead(buf: Buffer, start: number, end: number): Head {
  let text = buf.toString('latin1', start, end + 1);
  const m = STATUS_LINE.exec(text);
  if (!m) throw new ProtocolError(`bad status line ${JSON.stringify(text.slice(0, Math.min(60, text.indexOf('\n') + 1 || 60)).trim())}`);
  text = text.slice(m[0].length);
  if (!FIELD_LINES.test(text)) throw new ProtocolError(`bad header line ${JSON.stringify(text.split('\n').find((l) => !FIELD_LINES.test(l + '\n'))?.slice(0, 60))}`);
  // §5.2: each obs-fold is replaced by a space
  if (text[0] === ' ' || text[0] === '\t') throw new ProtocolError('continuation line before any field');
  if (/\n[ \t]/.test(text)) text = text.replace(OBS_FOLD, ' ');
  const head: Head = { minor: Number(m[1]), status: Number(m[2]), statusText: m[3] ?? '' };
  KEPT.lastIndex = 0;
  for (let f = KEPT.exec(text); f; f = KEPT.exec(text)) {
    const key = KEY[f[1].toLowerCase() as keyof typeof KEY];
    // RFC 9110 §5.3: repeated fields are one list
    head[key] = head[key] === undefined ? f[2] : `${head[key]}, ${f[2]}`;
  }
  return head;
}
