// `autosnap sim`: run the Proxmox VE simulator until SIGINT/SIGTERM.
import { parseArgs } from '../../cli/args.ts';
import { UsageError } from '../../core/errors.ts';
import { FaultSpecError } from './faults.ts';
import { SeedError } from './seed.ts';
import { SimOptionError, startPveSim, type PveSim } from './server.ts';
import { serveUntilSignal } from '../serve.ts';

const SIM_USAGE = `usage: autosnap sim [--listen HOST:PORT] [--seed FILE] [--token USER@REALM!TOKENID=SECRET]...
                    [--http] [--tls-cert FILE --tls-key FILE] [--time-scale X] [--faults SPEC] [--clock ISO-8601]

A Proxmox VE 9 API simulator (HTTPS, self-signed certificate made at start). Prints one line
when ready: "listening on https://HOST:PORT fingerprint <SHA-256>". Without --seed it serves a
built-in demo cluster. See docs/simulator.md.`;

export async function simMain(argv: string[]): Promise<number> {
  const args = parseArgs(argv, {
    string: ['listen', 'seed', 'token', 'time-scale', 'faults', 'clock', 'tls-cert', 'tls-key'],
    boolean: ['http', 'help'],
    multi: ['token'],
    alias: { h: 'help' },
  }, { global: false });
  if (args.help) {
    process.stdout.write(SIM_USAGE + '\n');
    return 0;
  }
  if (args._.length) throw new UsageError(`unexpected argument '${args._[0]}' (see --help)`);
  let timeScale: number | undefined;
  if (args['time-scale'] !== undefined) {
    timeScale = Number(args['time-scale']);
    if (!/^\d+(\.\d+)?([eE][-+]?\d+)?$/.test(String(args['time-scale'])) || !Number.isFinite(timeScale)) {
      throw new UsageError(`--time-scale '${args['time-scale']}' is not a number >= 0`);
    }
  }
  let sim: PveSim;
  try {
    sim = await startPveSim({
      listen: args.listen ?? '127.0.0.1:8006',
      seed: args.seed,
      tokens: args.token ?? [],
      http: args.http,
      timeScale,
      faults: args.faults,
      clock: args.clock,
      tlsCert: args['tls-cert'],
      tlsKey: args['tls-key'],
    });
  } catch (e) {
    if (e instanceof SimOptionError || e instanceof SeedError || e instanceof FaultSpecError) throw new UsageError(e.message);
    if (e instanceof Error && /--token/.test(e.message)) throw new UsageError(e.message);
    throw e;
  }
  return serveUntilSignal(sim);
}
