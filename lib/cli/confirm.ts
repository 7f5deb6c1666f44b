// Questions to the admin at a terminal, the same for every tool. Without a terminal
// nothing is ever asked: the caller must have been told --yes (or --dry-run), so a cron
// job can never hang on a prompt. End of input (Ctrl-D) or Ctrl-C at the prompt is no.
import readline from 'node:readline';

/**
 * Can we ask? The question goes to stderr and the answer comes from stdin, so both must
 * be the terminal: with stderr in a log file the admin would wait on a question unseen.
 */
export function interactive(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

export interface ConfirmOptions {
  /**
   * Only this word agrees (any case, surrounding blanks ignored), for steps that lose
   * data: the question should then say to type it. Without it, `y` or `yes` agree and
   * `[y/N]` is appended.
   */
  requireWord?: string;
}

/** Ask on stderr and wait for one line; true only for an agreeing answer. */
export function confirm(question: string, opts: ConfirmOptions = {}): Promise<boolean> {
  const word = opts.requireWord?.trim().toLowerCase();
  const agrees = (answer: string) => (word ? answer.trim().toLowerCase() === word : /^\s*y(es)?\s*$/i.test(answer));
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    let answered = false;
    rl.question(word ? `${question} ` : `${question} [y/N] `, (answer) => {
      answered = true;
      rl.close();
      resolve(agrees(answer));
    });
    rl.on('close', () => {
      if (!answered) {
        process.stderr.write('\n');
        resolve(false);
      }
    });
  });
}
