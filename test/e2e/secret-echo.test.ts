// A secret put where it does not belong (a newline inside a token, a password inside a
// host URL) is refused in one line that never shows it, through the compiled executable:
// the refusal comes before any connection, so no server is needed.
import { expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/bin.ts';

const conf = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'secret-echo-')), 'empty.conf');
fs.writeFileSync(conf, '');

test.each([
  [['--host', '127.0.0.1:1', '--api-token', 'root@pam!test=SEK\nRET4', 'list', '100'], 'SEK', 'error: pve-snapshot: command line: the secret of root@pam!test holds a control character (a newline?)'],
  [['--host', '127.0.0.1:1', '--api-token', 'root@pam=x!y\nSEK2\nRET', 'list', '100'], 'SEK2', "error: pve-snapshot: command line: 'root@pam' is not an API token id (expected USER@REALM!TOKENID, e.g. root@pam!autosnap)"],
  [['--host', '127.0.0.1:8006', '--api-token', 'root@pam=x!y=S3CRETVALUE', 'list', '100'], 'S3CRET', "error: pve-snapshot: command line: 'root@pam' is not an API token id (expected USER@REALM!TOKENID, e.g. root@pam!autosnap)"],
  [['--host', 'https://u:HOSTPASS99@127.0.0.1:8006', 'list', '100'], 'HOSTPASS', "error: pve-snapshot: --host: 'https://***@127.0.0.1:8006' is not a host name or address"],
  [['--host', 'u:HOSTPASS98@127.0.0.1:8006', 'list', '100'], 'HOSTPASS', "error: pve-snapshot: --host: '***@127.0.0.1:8006' is not a host name or address"],
])('%p: one line, exit 2, the secret not shown', async (args, secret, line) => {
  const r = await run(['pve-snapshot', ...args], { env: { AUTOSNAP_CONFIG: conf } });
  expect(r.stdout + r.stderr).not.toContain(secret);
  expect(r.stderr.trim()).toBe(line);
  expect(r.code).toBe(2);
});
