// One error family for every tool. Each error knows the exit code it maps to, so a tool's
// main() can turn any thrown error into one line on stderr and the documented exit code.

export const EXIT = {
  OK: 0,
  /** some guest (or item) failed; the others went on */
  FAILED: 1,
  /** bad usage, bad config, selector matched nothing */
  USAGE: 2,
  /** cluster unreachable or authentication failed */
  UNREACHABLE: 3,
  /** autosnap only: another run holds the run lock, nothing was done (not a guest failure) */
  BUSY: 4,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class AppError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode = EXIT.FAILED, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Wrong arguments, a malformed selector, an unreadable or unsafe config file. */
export class UsageError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.USAGE, options);
  }
}

/** No host answered, TLS failed, or authentication was refused. */
export class ConnectionError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.UNREACHABLE, options);
  }
}

/** Turn anything thrown into one printable line; never includes a stack. */
export function errorLine(err: unknown): string {
  // A usage error is built in one line by us; a newline in it is part of a value the user
  // gave (a selector, a duration, a zone), kept whole so the line names that very value
  // (the log escapes it as \n). Other errors may carry a library's trace: first line only.
  if (err instanceof UsageError) return err.message || err.name;
  if (err instanceof Error) return err.message.split('\n')[0] || err.name;
  return String(err);
}

export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof AppError ? err.exitCode : EXIT.FAILED;
}
