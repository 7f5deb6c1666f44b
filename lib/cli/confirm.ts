// Asking before a step that loses data, one policy for every tool:
// - on a terminal the tool says what is lost and goes on only when `yes` is typed (any
//   case, blanks around it ignored). A `y`, an empty line, end of input (Ctrl-D) or Ctrl-C
//   is no, and nothing changes: a stray key must not roll back a guest or restore a
//   volume. The rule of the Proxmox VE web interface, whose destroy dialog enables its
//   button only once the resource ID is typed (Proxmox.window.SafeDestroy,
//   proxmox-widget-toolkit src/window/SafeDestroy.js), rather than a click;
// - `--yes` (`-y`) says it up front, for scripts and cron;
// - without a terminal and without `--yes` nothing is ever asked: the command is refused
//   with one line before it reads or changes anything, so a cron job can never hang on
//   a prompt nobody sees.
import readline from 'node:readline';
import { UsageError } from '../core/errors.ts';

/** The one answer that goes on. */
const CONFIRM_WORD = 'yes';

/** Does this answer confirm? */
export function confirms(answer: string): boolean {
  return answer.trim().toLowerCase() === CONFIRM_WORD;
}

/**
 * Can we ask? The question goes to stderr and the answer comes from stdin, so both must
 * be the terminal: with stderr in a log file the admin would wait on a question unseen.
 */
function interactive(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

/**
 * Refuse up front a step that will need a confirmation nobody can give: `what` says why
 * it asks, `action` what --yes would do, `orElse` another way out (`--dry-run to only list`).
 */
export function requireConfirmable(opts: { yes: boolean; dryRun?: boolean }, what: string, action: string, orElse?: string): void {
  if (opts.yes || opts.dryRun || interactive()) return;
  throw new UsageError(`${what}; add --yes to ${action} without a terminal${orElse ? `, or ${orElse}` : ''}`);
}

/** Ask on stderr `Type 'yes' to ACTION:` and wait for one line; true only for the word. */
export function confirm(action: string): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    let answered = false;
    rl.question(`Type '${CONFIRM_WORD}' to ${action}: `, (answer) => {
      answered = true;
      rl.close();
      resolve(confirms(answer));
    });
    rl.on('close', () => {
      if (!answered) {
        process.stderr.write('\n');
        resolve(false);
      }
    });
  });
}
