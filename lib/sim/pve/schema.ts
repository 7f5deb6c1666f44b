// The official API schema as the simulator's source of truth: it decides which paths and
// methods exist (everything else is 501), and every request's parameters are checked the
// way PVE::JSONSchema does it (same order of checks, same texts, first error per parameter).
import type { ApiNode, MethodInfo, ParamSchema } from './api-index.ts';
export type { MethodInfo, ParamSchema } from './api-index.ts';
import { loadApiIndex } from './api-index.ts';

interface RouteNode {
  path: string;
  literal: Map<string, RouteNode>;
  param?: { name: string; node: RouteNode };
  info: Record<string, MethodInfo>;
}

export interface RouteMatch {
  /** the schema path, e.g. /nodes/{node}/qemu/{vmid}/snapshot */
  template: string;
  params: Record<string, string>;
  info: Record<string, MethodInfo>;
}

export class ApiSchema {
  private root: RouteNode = { path: '', literal: new Map(), info: {} };

  constructor(nodes: ApiNode[]) {
    const add = (n: ApiNode) => {
      const node = this.nodeFor(n.path);
      if (n.info) Object.assign(node.info, n.info);
      for (const c of n.children ?? []) add(c);
    };
    for (const n of nodes) add(n);
  }

  private nodeFor(path: string): RouteNode {
    let cur = this.root;
    for (const seg of path.split('/').filter(Boolean)) {
      const m = /^\{(.+)\}$/.exec(seg);
      if (m) {
        if (!cur.param) cur.param = { name: m[1], node: { path: `${cur.path}/${seg}`, literal: new Map(), info: {} } };
        cur = cur.param.node;
      } else {
        let next = cur.literal.get(seg);
        if (!next) {
          next = { path: `${cur.path}/${seg}`, literal: new Map(), info: {} };
          cur.literal.set(seg, next);
        }
        cur = next;
      }
    }
    return cur;
  }

  match(path: string): RouteMatch | undefined {
    let cur = this.root;
    const params: Record<string, string> = {};
    for (const raw of path.split('/').filter(Boolean)) {
      let seg: string;
      try {
        seg = decodeURIComponent(raw);
      } catch {
        return undefined;
      }
      const lit = cur.literal.get(seg);
      if (lit) cur = lit;
      else if (cur.param) {
        params[cur.param.name] = seg;
        cur = cur.param.node;
      } else return undefined;
    }
    return { template: cur.path || '/', params, info: cur.info };
  }
}

let cached: ApiSchema | undefined;
export function apiSchema(): ApiSchema {
  if (!cached) cached = new ApiSchema(loadApiIndex());
  return cached;
}

// ---------------------------------------------------------------------------------------
// formats: each returns the error text (without "invalid format - ") or undefined

const NODE_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const ID_RE = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i;

const FORMATS: Record<string, (v: string) => string | undefined> = {
  'pve-vmid': (v) => (/^[1-9][0-9]{2,8}$/.test(v) ? undefined : 'value does not look like a valid VM ID'),
  'pve-node': (v) => (NODE_RE.test(v) ? undefined : 'value does not look like a valid node name'),
  'pve-configid': (v) => (/^[a-z][a-z0-9_-]+$/i.test(v) ? undefined : `invalid configuration ID '${v}'`),
  'pve-storage-id': (v) => (ID_RE.test(v) ? undefined : `storage ID '${v}' contains illegal characters`),
  'pve-poolid': (v) => {
    if (v.split('/').length > 3) return `pool name '${v}' nested too deeply (max levels = 3)`;
    return /^[A-Za-z0-9.\-_]+(\/[A-Za-z0-9.\-_]+){0,2}$/.test(v) ? undefined : `invalid pool name '${v}'`;
  },
  'pve-userid': (v) => (/^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+$/.test(v) ? undefined : `value '${v}' does not look like a valid user name`),
  'pve-realm': (v) => (/^[A-Za-z][A-Za-z0-9.\-_]+$/.test(v) ? undefined : `realm '${v}' contains illegal characters`),
  'pve-volume-id': (v) => (/^[a-z][a-z0-9\-_.]*[a-z0-9]:.+$/i.test(v) ? undefined : `unable to parse volume ID '${v}'`),
  'pve-replication-job-id': (v) => (/^(\d+)-(\d{1,9})$/.test(v) ? undefined : `invalid replication job ID '${v}'`),
  'pve-storage-path': (v) => (/^\/.*$/.test(v) && !/\.\.\//.test(v) ? undefined : `invalid path '${v}'`),
  ip: (v) => (isIp(v) ? undefined : `value does not look like a valid IP address`),
  ipv4: (v) => (isIpv4(v) ? undefined : `value does not look like a valid IPv4 address`),
  // pve-common PVE/JSONSchema.pm verify_task_status_type
  'pve-task-status-type': (v) => (/^(ok|error|warning|unknown)$/i.test(v) ? undefined : `invalid status '${v}'`),
  'dns-name': (v) => (/^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i.test(v) ? undefined : `value does not look like a valid DNS name`),
};

function isIpv4(v: string): boolean {
  const p = v.split('.');
  return p.length === 4 && p.every((x) => /^\d{1,3}$/.test(x) && Number(x) <= 255);
}
function isIp(v: string): boolean {
  return isIpv4(v) || (/^[0-9a-f:.]+$/i.test(v) && v.includes(':'));
}

// list formats: the same check on each element, split the way PVE splits lists
for (const base of ['pve-configid', 'pve-vmid', 'pve-node', 'pve-storage-id', 'pve-task-status-type']) {
  FORMATS[`${base}-list`] = (v) => {
    for (const item of v.split(/[,;\s]+/).filter(Boolean)) {
      const err = FORMATS[base](item);
      if (err) return err;
    }
    return undefined;
  };
}

function checkFormat(format: string, value: string): string | undefined {
  return FORMATS[format]?.(value);
}

// ---------------------------------------------------------------------------------------

export interface Validated {
  params: Record<string, unknown>;
  errors?: Record<string, string>;
}

const TRUE_RE = /^(1|true|yes|on)$/i;
const FALSE_RE = /^(0|false|no|off)$/i;

/** PVE::JSONSchema::check_type, returning the coerced value or an error. */
function checkType(type: string | undefined, value: unknown): { value?: unknown; error?: string } {
  if (value !== null && typeof value === 'object') {
    if (type === 'array' || type === 'object') return { value };
    return { error: `type check ('${type}') failed - got ${Array.isArray(value) ? 'ARRAY' : 'HASH'}` };
  }
  const s = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
  switch (type) {
    case 'integer':
      return /^[-+]?\d+$/.test(s) ? { value: Number(s) } : { error: `type check ('integer') failed - got '${s}'` };
    case 'number':
      return /^[-+]?(\d+\.\d*|\d*\.\d+|\d+)([eE][-+]?\d+)?$/.test(s) ? { value: Number(s) } : { error: `type check ('number') failed - got '${s}'` };
    case 'boolean':
      if (TRUE_RE.test(s)) return { value: 1 };
      if (FALSE_RE.test(s)) return { value: 0 };
      return { error: `type check ('boolean') failed - got '${s}'` };
    case 'array':
      return { value: [value] };
    default:
      return { value: s };
  }
}

function checkProp(schema: ParamSchema, raw: unknown): { value?: unknown; error?: string } {
  const t = checkType(schema.type, raw);
  if (t.error) return t;
  const value = t.value;
  if (typeof value === 'object' && value !== null) {
    if (schema.type === 'array' && schema.items && Array.isArray(value)) {
      const out: unknown[] = [];
      for (const item of value) {
        const r = checkProp(schema.items, item);
        if (r.error) return r;
        out.push(r.value);
      }
      return { value: out };
    }
    return { value };
  }
  const s = String(value);
  if (schema.pattern !== undefined && !new RegExp(`^(?:${schema.pattern})$`).test(s)) return { error: 'value does not match the regex pattern' };
  if (schema.maxLength !== undefined && s.length > schema.maxLength) return { error: `value may only be ${schema.maxLength} characters long` };
  if (schema.minLength !== undefined && s.length < schema.minLength) return { error: `value must be at least ${schema.minLength} characters long` };
  if (schema.minimum !== undefined && typeof value === 'number' && value < Number(schema.minimum)) return { error: `value must have a minimum value of ${schema.minimum}` };
  if (schema.maximum !== undefined && typeof value === 'number' && value > Number(schema.maximum)) return { error: `value must have a maximum value of ${schema.maximum}` };
  if (schema.enum && !schema.enum.includes(s)) return { error: `value '${s}' does not have a value in the enumeration '${schema.enum.join(', ')}'` };
  if (typeof schema.format === 'string') {
    const err = checkFormat(schema.format, s);
    if (err) return { error: `invalid format - ${err}` };
  }
  return { value };
}

/**
 * Validate merged request parameters (path + query + body) against a method's schema.
 * Values are coerced: integers and numbers to numbers, booleans to 0/1.
 */
export function validateParams(info: MethodInfo, input: Record<string, unknown>): Validated {
  const props = info.parameters?.properties ?? {};
  const additional = info.parameters?.additionalProperties;
  const errors: Record<string, string> = {};
  const params: Record<string, unknown> = {};
  const add = (k: string, msg: string) => {
    if (!(k in errors)) errors[k] = msg;
  };
  for (const [k, v] of Object.entries(input)) {
    // the apidoc folds numbered keys (scsi0..scsi30, mp0..) into one `scsi[n]` entry
    const indexed = /^(.*?)(\d+)$/.exec(k);
    const schema = props[k] ?? (indexed ? props[`${indexed[1]}[n]`] : undefined);
    if (!schema) {
      if (typeof additional === 'object' && additional) {
        const r = checkProp(additional, v);
        if (r.error) add(k, r.error);
        else params[k] = r.value;
      } else if (additional) params[k] = v;
      else add(k, 'property is not defined in schema and the schema does not allow additional properties');
      continue;
    }
    if (schema.requires && input[schema.requires] === undefined) add(schema.requires, `missing property - '${k}' requires this property`);
    const r = checkProp(schema, v);
    if (r.error) add(k, r.error);
    else params[k] = r.value;
  }
  for (const [k, schema] of Object.entries(props)) {
    if (input[k] === undefined && !schema.optional && !k.endsWith('[n]')) add(k, 'property is missing and it is not optional');
  }
  return Object.keys(errors).length ? { params, errors } : { params };
}
