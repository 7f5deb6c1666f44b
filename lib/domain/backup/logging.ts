// Where the backup tools' lines go: the console (vzdump copies the hook's stdout into the
// task log), syslog/journald under a tag, and a log file rotated by logrotate.
//
// Syslog goes through ONE `logger` process per run, by absolute path (vzdump gives the hook
// no PATH), with --prio-prefix so warnings and errors keep their priority.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { redact, setLogSink } from '../../core/log.ts';
import { writeErr, writeFd } from '../../core/stdio.ts';

export interface BackupLogOptions {
  console: 'stdout' | 'stderr';
  syslog: boolean;
  syslogTag: string;
  loggerPath: string;
  logFile?: string;
  node: string;
  tool: string;
}

/** syslog priority (facility user) of a line, from the tag the log module puts in front */
export function priorityOf(line: string): number {
  if (/^(\S+: )?error: /.test(line)) return 8 + 3;
  if (/^(\S+: )?warning: /.test(line)) return 8 + 4;
  return 8 + 6;
}

export function fileLine(now: Date, node: string, tool: string, pid: number, line: string): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const ts = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())} ${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`;
  return `${ts} ${node} ${tool}[${pid}]: ${line}\n`;
}

export class BackupLog {
  private logger?: ChildProcess;
  private loggerDone?: Promise<void>;
  private fd?: number;
  private problems: string[] = [];

  constructor(private readonly opts: BackupLogOptions) {}

  start(): void {
    const o = this.opts;
    if (o.syslog) {
      try {
        const child = spawn(o.loggerPath, ['--prio-prefix', '-t', o.syslogTag], { stdio: ['pipe', 'ignore', 'ignore'], env: { PATH: SAFE_PATH } });
        this.loggerDone = new Promise((resolve) => {
          child.once('error', (e: any) => {
            this.problems.push(`syslog: cannot run ${o.loggerPath}: ${e.code ?? e.message}`);
            this.logger = undefined;
            resolve();
          });
          child.once('close', () => resolve());
        });
        child.stdin!.on('error', () => {});
        this.logger = child;
      } catch (e: any) {
        this.problems.push(`syslog: cannot run ${o.loggerPath}: ${e.code ?? e.message}`);
      }
    }
    if (o.logFile) {
      try {
        fs.mkdirSync(path.dirname(o.logFile), { recursive: true, mode: 0o750 });
        this.fd = fs.openSync(o.logFile, 'a', 0o640);
      } catch (e: any) {
        this.problems.push(`cannot open log file ${o.logFile}: ${e.code ?? e.message}`);
      }
    }
    setLogSink((line) => this.write(line));
    for (const p of this.problems.splice(0)) this.write(`warning: ${p}`);
  }

  write(raw: string): void {
    const line = redact(raw);
    writeFd(this.opts.console === 'stdout' ? 1 : 2, line + '\n');
    if (this.logger?.stdin?.writable) this.logger.stdin.write(`<${priorityOf(line)}>${line}\n`);
    if (this.fd !== undefined) {
      try {
        fs.writeSync(this.fd, fileLine(new Date(), this.opts.node, this.opts.tool, process.pid, line));
      } catch {
        // a full /var/log must not fail a backup
      }
    }
  }

  /** Flush syslog before the process leaves (main() exits right after). */
  async close(): Promise<void> {
    setLogSink((line) => writeErr(line + '\n'));
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    if (this.logger) {
      this.logger.stdin?.end();
      const t = setTimeout(() => this.logger?.kill(), 3000);
      await this.loggerDone;
      clearTimeout(t);
    }
  }
}

/** PATH for the programs the tools start: vzdump gives the hook none. */
export const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
