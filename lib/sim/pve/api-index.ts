// Where the API schema comes from. The official apidoc (data/pve-api/apidoc-pve-9.1.json,
// the data behind the PVE API viewer) is embedded in the executable at build time as a
// file, not as a module: a 1.2 MB object literal would be parsed at every start of every
// tool, while only the simulator reads it. It is parsed on first use.
import fs from 'node:fs';
import apidocFile from '../../../data/pve-api/apidoc-pve-9.1.json' with { type: 'file' };

// The schema's types live here, with the index that loads them, so that schema.ts (the
// validator) imports this module and not the other way round.
export interface ParamSchema {
  type?: string;
  format?: string | Record<string, unknown>;
  pattern?: string;
  enum?: string[];
  maxLength?: number;
  minLength?: number;
  minimum?: number | string;
  maximum?: number | string;
  optional?: number | boolean;
  requires?: string;
  default?: unknown;
  items?: ParamSchema;
}

export interface MethodInfo {
  name?: string;
  method: string;
  parameters?: { properties?: Record<string, ParamSchema>; additionalProperties?: number | boolean | ParamSchema };
  permissions?: { check?: unknown[]; user?: string };
  returns?: { type?: string };
  protected?: number;
  allowtoken?: number;
}

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
