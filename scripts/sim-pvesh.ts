// Entry of the sim-pvesh tool (a pvesh stand-in that talks to the simulator); the work
// lives in lib/sim/pve.
import { pveshMain } from '../lib/sim/pve/pvesh.ts';
import { VERSION } from '../lib/core/version.ts';
import { writeOut } from '../lib/core/stdio.ts';

const HELP = `sim-pvesh ${VERSION} - a pvesh stand-in backed by the autosnap simulator (for tests)

usage: pvesh <get|create|set|delete> PATH [--param value ...] [--output-format json|json-pretty|text|yaml]

Run through a link named 'pvesh' so the bundle's pvesh transport can be tested without a
Proxmox node. It answers like pvesh on a node: task calls run synchronously (task log on
stdout, then the UPID) and exit 0 even when the task failed.

environment:
  PVESH_SIM_URL          the simulator's URL (https://127.0.0.1:PORT)
  PVESH_SIM_FINGERPRINT  its certificate fingerprint (pinned)
  PVESH_SIM_TOKEN        a full-privilege token of the simulator (USER@REALM!ID=SECRET)
`;

export async function main(argv: string[]): Promise<number> {
  // only as the sole argument: `pvesh get /x --help` must stay pvesh's own business
  if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help')) {
    writeOut(HELP);
    return 0;
  }
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    writeOut(`sim-pvesh ${VERSION}\n`);
    return 0;
  }
  return pveshMain(argv);
}
