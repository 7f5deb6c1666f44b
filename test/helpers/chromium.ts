// Debian's headless Chromium (test/setup.sh installs it) for the HTML report: a
// screenshot at a window size, and the DOM as the browser parsed it. Each call is one
// short-lived browser with a throw-away profile and no network (every host resolves to
// nothing), so a page that needed the network would show it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function chromiumPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/bin'])) {
    for (const name of ['chromium', 'chromium-browser']) {
      const p = path.join(dir, name);
      if (fs.existsSync(p)) return p;
    }
  }
  return undefined;
}

function chromium(args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = chromiumPath();
  if (!bin) throw new Error('chromium is not installed (test/setup.sh installs it: apt-get install chromium)');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-chromium-'));
  const all = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--hide-scrollbars',
    '--no-first-run',
    '--disable-extensions',
    '--disable-background-networking',
    '--force-device-scale-factor=1',
    '--host-resolver-rules=MAP * ~NOTFOUND',
    `--user-data-dir=${profile}`,
    ...args,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(bin, all, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    // the browser starts helper processes: end the whole group it leads on a time-out
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone already
      }
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      fs.rmSync(profile, { recursive: true, force: true });
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** Screenshot of an HTML file at a window size; returns the PNG's path. */
export async function screenshot(htmlFile: string, png: string, width: number, height: number): Promise<string> {
  fs.rmSync(png, { force: true });
  const r = await chromium([`--screenshot=${path.resolve(png)}`, `--window-size=${width},${height}`, `file://${path.resolve(htmlFile)}`]);
  if (!fs.existsSync(png)) throw new Error(`chromium made no screenshot (exit ${r.code}): ${r.stderr.slice(-500)}`);
  return png;
}

/** The document as the browser parsed it. */
export async function dumpDom(htmlFile: string): Promise<string> {
  const r = await chromium(['--dump-dom', `file://${path.resolve(htmlFile)}`]);
  if (r.code !== 0 || !r.stdout.includes('</html>')) throw new Error(`chromium --dump-dom failed (exit ${r.code}): ${r.stderr.slice(-500)}`);
  return r.stdout;
}

/** Width and height of a PNG, from its IHDR chunk. */
export function pngSize(file: string): { width: number; height: number } {
  const b = fs.readFileSync(file);
  if (b.toString('latin1', 1, 4) !== 'PNG') throw new Error(`${file} is not a PNG`);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}
