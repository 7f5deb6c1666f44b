// The frame every tool's main() runs in: one line per error on stderr, the documented
// exit code, and no stack traces unless --debug.
import { AppError, EXIT, errorLine, exitCodeOf } from './errors.ts';
import { error, logLevel } from './log.ts';
import { redact } from './log.ts';

export type Main = (argv: string[]) => Promise<number>;

export async function runMain(tool: string, main: Main, argv: string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (err) {
    const line = errorLine(err);
    error(`${tool}: ${line}`);
    if (logLevel() === 'debug' && err instanceof Error && err.stack) {
      process.stderr.write(redact(err.stack) + '\n');
    }
    return err instanceof AppError ? err.exitCode : exitCodeOf(err) ?? EXIT.FAILED;
  }
}
