// An error the simulated API answers with: HTTP status, PVE's message, and for 400 the
// per-parameter texts. Anything else thrown inside a handler becomes a 500, as in PVE.

export class PveError extends Error {
  readonly status: number;
  readonly errors?: Record<string, string>;
  constructor(status: number, message: string, errors?: Record<string, string>) {
    super(message);
    this.status = status;
    this.errors = errors;
  }
}

export const paramError = (errors: Record<string, string>) => new PveError(400, 'Parameter verification failed.', errors);
export const permError = (path: string, priv: string) => new PveError(403, `Permission check failed (${path}, ${priv})`);
export const notImplemented = (method: string, path: string) => new PveError(501, `Method '${method} ${path}' not implemented`);

/** What the task's exitstatus shows for an error: one line. */
export function exitText(message: string): string {
  return message.trim().replace(/\s*\n\s*/g, ' ');
}
