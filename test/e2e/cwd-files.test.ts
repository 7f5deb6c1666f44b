// The tools run as root from timers, from vzdump and from whatever directory an admin is
// in, /tmp included. A bun executable by default reads `.env*` and `bunfig.toml` from the
// working directory at start: a `.env` would set AUTOSNAP_CONFIG or AUTOSNAP_HOST, and a
// bunfig.toml `preload` would run any code as root. The build turns both off; this
// checks the executable that ships.
import { afterAll, describe, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/bin.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-cwd-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const marker = path.join(dir, 'preload-ran');
fs.writeFileSync(path.join(dir, 'evil.ts'), `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'x');\n`);
fs.writeFileSync(path.join(dir, 'bunfig.toml'), 'preload = ["./evil.ts"]\n');
for (const f of ['.env', '.env.local', '.env.production']) fs.writeFileSync(path.join(dir, f), 'AUTOSNAP_HOST=from-dotenv.invalid:8006\n');
const empty = path.join(dir, 'empty.conf');
// credentials, so that a run gets as far as naming the host it would contact
const TOKEN = 'root@pam!cwdtest=00000000-0000-0000-0000-000000000000';
fs.writeFileSync(empty, '', { mode: 0o600 });

describe('files in the working directory change nothing', () => {
  test.each([
    ['autosnap', ['--vmid', '100', 'status']],
    ['pve-snapshot', ['list', '100']],
    ['backup-hook', ['backup-start', 'snapshot', '100']],
  ])('%s', async (tool, args) => {
    const r = await run(args, { as: tool, cwd: dir, env: { AUTOSNAP_CONFIG: empty, AUTOSNAP_API_TOKEN: TOKEN, AUTOSNAP_HOST: undefined } });
    expect(fs.existsSync(marker)).toBe(false);
    expect(r.stdout + r.stderr).not.toContain('from-dotenv.invalid');
  });

  test('the environment given is still read', async () => {
    // the same call with the variable really set: proves the check above can see a host
    const r = await run(['--vmid', '100', 'status'], { cwd: dir, env: { AUTOSNAP_CONFIG: empty, AUTOSNAP_API_TOKEN: TOKEN, AUTOSNAP_HOST: 'from-env.invalid:8006' } });
    expect(r.stdout + r.stderr).toContain('from-env.invalid');
  });
});
