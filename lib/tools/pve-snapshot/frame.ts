// What every pve-snapshot action shares: the run context, the guest words, the connection
// and the guest resolution. Everything the user typed is checked before the first call.
import type { Parsed } from '../../cli/args.ts';
import { connect } from '../../cli/connect.ts';
import { loadConfig } from '../../core/config.ts';
import { parseDuration } from '../../core/duration.ts';
import { AppError, EXIT, UsageError, errorLine } from '../../core/errors.ts';
import type { Format } from '../../core/output.ts';
import { PveApiError, TaskError } from '../../clients/pve/errors.ts';
import type { PveClient } from '../../clients/pve/types.ts';
import { NoGuestError, resolveGuests, type GuestInfo } from '../../domain/guests/inventory.ts';
import { parseSelector } from '../../domain/guests/selector.ts';
import { zoneOffsets } from '../../core/zoneinfo.ts';

export const TOOL = 'pve-snapshot';

export interface Ctx {
  args: Parsed;
  format: Format;
  dryRun: boolean;
  parallel: number;
  tz?: string;
}

/** One vmid or one name, as opposed to a selector naming any number of guests. */
export function isSingleGuest(text: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9.\-_]*$/.test(text) && !/^\d+-\d*$/.test(text);
}

// the one check of an existing snapshot's name is the engine's
export { existingNameProblem } from '../../domain/guest-snapshots/names.ts';

export const label = (g: { vmid: number; name?: string }) => (g.name ? `${g.vmid} (${g.name})` : String(g.vmid));
export const kind = (g: { type: string }) => (g.type === 'lxc' ? 'CT' : 'VM');

/** The text worth showing for a failed call: the task's exit status or PVE's own message. */
export function reasonOf(err: unknown): string {
  if (err instanceof TaskError) return err.exitstatus;
  if (err instanceof PveApiError && err.status === 500 && err.pveMessage) return err.pveMessage.replace(/\s*\n\s*/g, ' ').trim();
  return errorLine(err);
}

/** Connection loss and refused authentication end the run (exit 3) instead of failing every guest alike. */
export function fatal(err: unknown): boolean {
  return err instanceof AppError && err.exitCode === EXIT.UNREACHABLE;
}

/** A read whose failure is the guest's (one failed line), unless it ends the run. */
export async function guestRead<T>(read: () => Promise<T>): Promise<{ value: T } | { error: string }> {
  try {
    return { value: await read() };
  } catch (e) {
    if (fatal(e)) throw e;
    return { error: reasonOf(e) };
  }
}

export function checkTimeZone(tz: string): void {
  // the system's database first: Intl loads ICU's data (lib/core/zoneinfo.ts)
  if (zoneOffsets(tz)) return;
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
  } catch {
    throw new UsageError(`--tz: unknown time zone '${tz}'`);
  }
}

export function olderThan(args: Parsed): number | undefined {
  const v = args['older-than'];
  if (v === undefined) return undefined;
  // An age in milliseconds is never meant, and `6ms` reads as six months: taken as 6 ms, a
  // clean-up would match every snapshot. The shared grammar has `ms` (for the backup
  // protocol's tests); this option refuses it, as it did before the grammars were merged.
  if (/ms\s*$/i.test(String(v))) throw new UsageError(`--older-than: '${String(v).trim()}' is milliseconds; give the age in s, m (minutes), h, d or w`);
  return parseDuration(String(v), '--older-than');
}

/** Connect, after checking the guest or selector: a malformed one is named before any connection. */
export async function open(ctx: Ctx, target?: string): Promise<PveClient> {
  if (target !== undefined) parseSelector(target);
  return connect(ctx.args, loadConfig({ config: ctx.args.config }));
}

export async function resolve(client: PveClient, text: string, opts: { single?: boolean } = {}): Promise<GuestInfo[]> {
  let guests: GuestInfo[];
  try {
    guests = await resolveGuests(client, text, { includeTemplates: true });
  } catch (e) {
    if (isSingleGuest(text) && e instanceof NoGuestError) {
      throw new UsageError(`guest '${text}' not found${e.hint ? `; ${e.hint}` : ': no VM or container in the cluster has that vmid or name'}`);
    }
    throw e;
  }
  if (opts.single && guests.length > 1) {
    throw new UsageError(`'${text}' names ${guests.length} guests (${guests.map((g) => g.vmid).join(', ')}): give one vmid`);
  }
  return guests;
}

/** Open, run, close: every action that talks to the cluster runs in this frame. */
export async function withClient<T>(ctx: Ctx, target: string, fn: (client: PveClient) => Promise<T>): Promise<T> {
  const client = await open(ctx, target);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}
