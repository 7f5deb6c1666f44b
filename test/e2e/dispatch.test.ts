// The one executable answers to every tool name: through a link of that name (argv0) and
// as `autosnap <tool>`. Every tool has --version and --help, and bad usage is one line.
import { describe, expect, test } from 'bun:test';
import { run } from '../helpers/bin.ts';

const TOOLS = ['autosnap', 'pve-snapshot', 'ontap-snapshot', 'backup-hook', 'backup-wakeup', 'backup-sync', 'sim', 'ontap-sim', 'sim-pvesh'];

describe('every tool by link name and by first argument', () => {
  test.each(TOOLS)('%s --version', async (tool) => {
    const viaLink = await run(['--version'], { as: tool });
    expect([viaLink.code, viaLink.stdout.trim()]).toEqual([0, expect.stringMatching(new RegExp(`^${tool} \\d+\\.\\d+\\.\\d+$`))]);
    if (tool !== 'autosnap') {
      const viaArg = await run([tool, '--version']);
      expect(viaArg.stdout).toBe(viaLink.stdout);
    }
  });
  test.each(TOOLS)('%s --help names the tool and exits 0', async (tool) => {
    const r = await run(['--help'], { as: tool });
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(100);
    expect(r.stdout).toContain(tool === 'sim-pvesh' ? 'pvesh' : tool.replace('ontap-sim', 'ontap'));
  });
  test.each(TOOLS.filter((t) => t !== 'sim-pvesh'))('%s: an unknown option is one line and exit 2', async (tool) => {
    const r = await run(['--frobnicate'], { as: tool, timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('--frobnicate');
  });
});

test('a link named pvesh runs the stand-in, which needs its simulator', async () => {
  const r = await run(['get', '/version'], { as: 'pvesh', env: { PVESH_SIM_URL: undefined, PVESH_SIM_TOKEN: undefined } });
  expect(r.code).toBe(255);
  expect(r.stderr).toContain('PVESH_SIM_URL');
});

describe('a malformed selector is named before any connection is tried', () => {
  // no host and no credentials: were the selector not checked first, these would complain about those
  test.each([
    [['--vmid', '10x', 'status']],
    [['--vmid', '10x', 'snap', '--label', 'hourly', '--keep', '2']],
    [['--vmid', '@all,-', 'plan', '--label', 'hourly', '--keep', '2']],
    [['pve-snapshot', 'list', '10x']],
  ])('%p', async (args) => {
    const r = await run(args, { env: { AUTOSNAP_CONFIG: '/dev/null', AUTOSNAP_HOST: undefined, AUTOSNAP_API_TOKEN: undefined } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/selector: (bad|empty) token/);
  });
});
