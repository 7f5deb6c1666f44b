// Where the API schema comes from. The official apidoc (data/pve-api/apidoc-pve-9.1.json,
// the data behind the PVE API viewer) is embedded in the executable at build time.
import apidoc from '../../../data/pve-api/apidoc-pve-9.1.json' with { type: 'json' };
import type { MethodInfo } from './schema.ts';

export interface ApiNode {
  path: string;
  info?: Record<string, MethodInfo>;
  children?: ApiNode[];
}

export function loadApiIndex(): ApiNode[] {
  return apidoc as unknown as ApiNode[];
}
