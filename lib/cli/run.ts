// The frame every tool's main() runs in: one line per error on stderr, the documented
// exit code, and no stack traces unless --debug.
import { AppError, EXIT, errorLine, exitCodeOf } from '../core/errors.ts';
import { error, logLevel } from '../core/log.ts';
import { redact } from '../core/log.ts';
import { escapeText } from '../core/escape.ts';

export type Main = (argv: string[]) => Promise<number>;

/**
 * A reader that went away (`pve-snapshot list @all | head -1`) closes our stdout: the
 * writes after that fail with EPIPE, which would end the tool with a stack trace, or in
 * the middle of its work. The output nobody reads is dropped and the work goes on to its
 * end (a run half done because its log reader quit would be worse than a lost line).
 */
function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount('error') > 0) continue;
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e?.code !== 'EPIPE' && e?.code !== 'ERR_STREAM_DESTROYED') throw e;
    });
  }
}

export async function runMain(tool: string, main: Main, argv: string[]): Promise<number> {
  quietOnClosedPipe();
  try {
    return await main(argv);
  } catch (err) {
    const line = errorLine(err);
    error(`${tool}: ${line}`);
    if (logLevel() === 'debug' && err instanceof Error && err.stack) {
      process.stderr.write(escapeText(redact(err.stack)) + '\n');
    }
    return err instanceof AppError ? err.exitCode : exitCodeOf(err) ?? EXIT.FAILED;
  }
}
