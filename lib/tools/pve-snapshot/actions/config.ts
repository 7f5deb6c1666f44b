// config <guest> <name>: the configuration saved in a snapshot, read only.
import { EXIT, UsageError } from '../../../core/errors.ts';
import { escapeJson } from '../../../core/escape.ts';
import { error } from '../../../core/log.ts';
import { print, printLines } from '../../../core/output.ts';
import { snapshotOps } from '../../../domain/guest-snapshots/ops.ts';
import { TOOL, existingNameProblem, guestRead, label, resolve, withClient, type Ctx } from '../frame.ts';

/**
 * `qm config` style: sorted `key: value` lines, without the digest. Like qm, line breaks
 * (in the description) are percent-encoded, so every setting stays on one line.
 */
export function configLines(config: Record<string, unknown>): string[] {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must be encoded
  const encode = (v: string) => v.replace(/[\x00-\x1f%]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
  return Object.keys(config)
    .filter((k) => k !== 'digest')
    .sort()
    .map((k) => `${k}: ${encode(String(config[k]))}`);
}

export async function configAction(ctx: Ctx, target: string, name: string): Promise<number> {
  const problem = existingNameProblem(name);
  if (problem) throw new UsageError(problem);
  if (ctx.format !== 'text' && ctx.format !== 'json' && ctx.format !== 'jsonpretty') throw new UsageError(`config: output format ${ctx.format} is not available (text, json, jsonpretty)`);
  return withClient(ctx, target, async (client) => {
    const [g] = await resolve(client, target, { single: true });
    const read = await guestRead(() => snapshotOps(client).snapshotConfig(g, name));
    if ('error' in read) {
      error(`${TOOL}: ${label(g)}: config of '${name}' failed: ${read.error}`);
      return EXIT.FAILED;
    }
    if (ctx.format === 'text') printLines(configLines(read.value));
    else print(escapeJson(JSON.stringify(read.value, null, ctx.format === 'jsonpretty' ? 2 : undefined)) + '\n');
    return EXIT.OK;
  });
}
