// Writes dist/man/<tool>.8 for every tool from what the compiled executable prints for
// --help (run by `npm run build` after the executable is made), and each compressed as
// <tool>.8.gz for installing. See lib/cli/manpage.ts.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { helpToMan, MAN_TOOLS } from '../lib/cli/manpage.ts';
import { VERSION } from '../lib/core/version.ts';

const root = path.resolve(import.meta.dir, '..');
const bin = process.argv[2] ?? path.join(root, 'dist', 'autosnap');
const out = process.argv[3] ?? path.join(root, 'dist', 'man');
// a reproducible date: the last commit's, as the package's changelog has it
let epoch = Number(process.env.SOURCE_DATE_EPOCH);
if (!epoch) {
  try {
    epoch = Number(execFileSync('git', ['-C', root, 'log', '-1', '--format=%ct'], { encoding: 'utf8' }).trim());
  } catch {
    epoch = Math.floor(Date.now() / 1000);
  }
}
const date = new Date(epoch * 1000).toISOString().slice(0, 10);
fs.mkdirSync(out, { recursive: true });
for (const tool of Object.keys(MAN_TOOLS)) {
  const help = execFileSync(bin, [tool, '--help'], { encoding: 'utf8', env: { ...process.env, AUTOSNAP_CONFIG: '/nonexistent' } });
  const page = helpToMan(tool, help, VERSION, date);
  fs.writeFileSync(path.join(out, `${tool}.8`), page);
  // compressed here, so that installing needs no gzip (install.sh needs only coreutils);
  // zlib writes no file name and a zero time into the header: the same page, the same bytes
  fs.writeFileSync(path.join(out, `${tool}.8.gz`), zlib.gzipSync(page, { level: 9 }));
}
console.log(`man pages: ${Object.keys(MAN_TOOLS).length} in ${path.relative(process.cwd(), out) || out}`);
