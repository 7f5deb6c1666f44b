// Every byte the tools write to stdout and stderr goes through here. A write is a plain
// write(2) on the descriptor, made at once: nothing is buffered in memory, a slow reader
// holds the writer back, and all of it has reached the pipe or file before the process
// exits. The `process.stdout` and `process.stderr` streams are not created on this path:
// their code costs every run several MiB of memory (a compiled hello world writing through
// process.stdout peaks at ~33 MiB, through write(2) at ~29), most of a small command's
// working set.
//
// Two cases fall back to the stream. A descriptor in non-blocking mode (a parent may hand
// one down) refuses a write with EAGAIN when the reader is behind: the rest of that text,
// and every later write to it, goes through the stream, which waits for the reader (see
// drainOutput). And a reader that went away (`pve-snapshot list @all | head -1`) fails the
// write with EPIPE: what nobody reads is dropped from then on and the work goes on to its
// end (a run half done because its log reader quit would be worse than a lost line).
// Any other failure (a full disk behind `> file` or `2>> log`, an I/O error) is not thrown
// at the writer either: a log line that cannot be written must not fail a guest or stop a
// run between its snapshots. That descriptor's output is dropped from then on and the
// failure kept: the tool ends with it on stderr and a non-zero exit (lib/cli/run.ts).
import fs from 'node:fs';

type Fd = 1 | 2;
/** the reader of this descriptor went away: its output is dropped */
const closed = new Set<Fd>();
/** the descriptor refused a write: it goes through its stream from now on, in order */
const streams = new Map<Fd, NodeJS.WriteStream>();
/**
 * streams whose last write() said to wait for 'drain' (Bun's writableLength stays 0 while
 * its native sink holds the bytes: it cannot tell)
 */
const behind = new Set<Fd>();

/** what made a descriptor's output stop, other than its reader going away */
const failures = new Map<Fd, string>();

/** The output is dropped from now on; a failure other than a reader gone is kept. */
function stop(fd: Fd, e: unknown): void {
  closed.add(fd);
  if (!gone(e) && !failures.has(fd)) failures.set(fd, `${fd === 1 ? 'stdout' : 'stderr'}: ${(e as Error)?.message ?? String(e)}`);
}

/** The output lost to a write that failed (not to a reader that went away), one text per descriptor. */
export const outputFailures = (): string[] => [...failures.values()];

/**
 * The reader went away. EPIPE on a pipe; on a socket (a parent's socketpair, as bun's and
 * Node's child_process make for 'pipe', or journald's stream) the peer that closed with
 * bytes still unread answers with a reset, so the next write fails with ECONNRESET instead.
 */
export const readerGone = (code: string | undefined): boolean => code === 'EPIPE' || code === 'ECONNRESET' || code === 'ERR_STREAM_DESTROYED';
const gone = (e: unknown) => readerGone((e as NodeJS.ErrnoException)?.code);

function streamOf(fd: Fd): NodeJS.WriteStream {
  let s = streams.get(fd);
  if (!s) {
    s = fd === 1 ? process.stdout : process.stderr;
    // a failure of the stream is one of write(2): the output dropped, the failure kept (stop)
    s.on('error', (e: unknown) => stop(fd, e));
    s.on('drain', () => behind.delete(fd));
    streams.set(fd, s);
  }
  return s;
}

/** Write text to stdout (1) or stderr (2), whole and in order. */
export function writeFd(fd: Fd, text: string): void {
  if (closed.has(fd) || !text) return;
  const stream = streams.get(fd);
  if (stream) {
    if (!stream.destroyed && stream.writable && !stream.write(text)) behind.add(fd);
    return;
  }
  // the text as it is: a Buffer copy of every slice would be garbage the collector lets
  // pile up (the runtime encodes it into a buffer it frees at once)
  let done = 0;
  let bytes: Buffer | undefined;
  try {
    done = fs.writeSync(fd, text);
    const length = Buffer.byteLength(text, 'utf8');
    if (done < length) {
      // a write cut short (a signal, a non-blocking descriptor): the rest by its bytes
      bytes = Buffer.from(text, 'utf8');
      while (done < length) done += fs.writeSync(fd, bytes, done, length - done);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException)?.code !== 'EAGAIN') {
      stop(fd, e);
      return;
    }
    bytes ??= Buffer.from(text, 'utf8');
    if (!streamOf(fd).write(bytes.subarray(done))) behind.add(fd);
  }
}

export const writeOut = (text: string): void => writeFd(1, text);
export const writeErr = (text: string): void => writeFd(2, text);

/**
 * Resolves once what went to a stream (after an EAGAIN) has been handed to the system, or
 * its reader went away; at once when nothing waits. Called before the process exits.
 */
export async function drainOutput(): Promise<void> {
  for (const [fd, s] of streams) {
    if (closed.has(fd) || s.destroyed || !behind.has(fd)) continue;
    await new Promise<void>((resolve) => {
      const done = () => {
        s.off('drain', done).off('close', done).off('error', done);
        resolve();
      };
      s.on('drain', done).on('close', done).on('error', done);
    });
  }
}
