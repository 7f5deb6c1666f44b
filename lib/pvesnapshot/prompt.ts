// Questions to the admin at a terminal. Without a terminal nothing is ever asked: the
// caller must have said --yes (or --dry-run), so a cron job can never hang on a prompt.
import readline from 'node:readline';

export function interactive(): boolean {
  return process.stdin.isTTY === true;
}

/** Ask a yes/no question on stderr; only `y` or `yes` agree. */
export function confirm(question: string): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    let answered = false;
    rl.question(`${question} [y/N] `, (answer) => {
      answered = true;
      rl.close();
      resolve(/^\s*y(es)?\s*$/i.test(answer));
    });
    // Ctrl-D or Ctrl-C at the prompt means no
    rl.on('close', () => {
      if (!answered) {
        process.stderr.write('\n');
        resolve(false);
      }
    });
  });
}
