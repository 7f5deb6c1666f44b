// The frame every tool's main() runs in: one line per error on stderr, the documented
// exit code, and no stack traces unless --debug. A reader that went away (`| head -1`)
// ends no tool: lib/core/stdio.ts drops what nobody reads.
import { AppError, EXIT, errorLine, exitCodeOf } from '../core/errors.ts';
import { error, logLevel } from '../core/log.ts';
import { redact } from '../core/log.ts';
import { escapeText } from '../core/escape.ts';
import { drainOutput, outputFailures, writeErr } from '../core/stdio.ts';

export type Main = (argv: string[]) => Promise<number>;

export async function runMain(tool: string, main: Main, argv: string[]): Promise<number> {
  let code: number;
  try {
    code = await main(argv);
  } catch (err) {
    const line = errorLine(err);
    error(`${tool}: ${line}`);
    if (logLevel() === 'debug' && err instanceof Error && err.stack) {
      writeErr(escapeText(redact(err.stack)) + '\n');
    }
    code = err instanceof AppError ? err.exitCode : exitCodeOf(err) ?? EXIT.FAILED;
  }
  // what a non-blocking stdout or stderr could not take at once is still on its way
  await drainOutput();
  // output lost to a full disk or an I/O error: said (when stderr still takes it) and never exit 0
  const lost = outputFailures();
  for (const l of lost) error(`${tool}: ${l}`);
  return lost.length && code === EXIT.OK ? EXIT.FAILED : code;
}
