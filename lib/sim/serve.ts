// What both simulators do once started: print the one ready line the tests and the demo
// wait for, serve until SIGINT or SIGTERM, then close.
export async function serveUntilSignal(sim: { url: string; fingerprint?: string; close(): Promise<void> }): Promise<number> {
  process.stdout.write(`listening on ${sim.url} fingerprint ${sim.fingerprint || '-'}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await sim.close();
  return 0;
}
