// Where the API schema comes from. The official apidoc (data/pve-api/apidoc-pve-9.1.json,
// the data behind the PVE API viewer) is embedded in the executable at build time as a
// file, not as a module: a 1.2 MB object literal would be parsed at every start of every
// tool, while only the simulator reads it. It is parsed on first use.
import fs from 'node:fs';
import apidocFile from '../../../data/pve-api/apidoc-pve-9.1.json' with { type: 'file' };
import type { MethodInfo } from './schema.ts';

export interface ApiNode {
  path: string;
  info?: Record<string, MethodInfo>;
  children?: ApiNode[];
}

let parsed: ApiNode[] | undefined;
export function loadApiIndex(): ApiNode[] {
  // TypeScript types a .json import as its content; with type 'file' bun gives its path
  parsed ??= JSON.parse(fs.readFileSync(apidocFile as unknown as string, 'utf8')) as ApiNode[];
  return parsed;
}
