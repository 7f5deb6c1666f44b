// The ONTAP REST collection grammar, as pure functions: `fields=` projection, query
// filters with `*` wildcards, `|` alternatives and `!` negation, and nested vs flattened
// bodies. The simulator uses them; they are pure so the unit tests can pin them down.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Obj = { [k: string]: Json };

/** Query parameters that steer a request instead of filtering records. */
const RESERVED = new Set(['fields', 'max_records', 'return_records', 'return_timeout', 'order_by', 'start.uuid', 'start.path', 'start', 'return_unmatched_nested_array_objects']);

/** Every dotted field name of a list, with the objects above them (`svm` for `svm.name`). */
export function withParents(fields: string[]): Set<string> {
  const out = new Set<string>();
  for (const f of fields) {
    const parts = f.split('.');
    for (let i = 1; i <= parts.length; i++) out.add(parts.slice(0, i).join('.'));
  }
  return out;
}

/**
 * The first query parameter a request may not carry, or the first `fields=` name the
 * resource does not have: ONTAP refuses both instead of ignoring them. `known` are the
 * resource's fields (filters and `fields=` names), `extra` parameters of this call.
 */
export function badParameter(query: URLSearchParams, known: Set<string>, extra: string[] = [], filters = true): { param: string; field?: string } | undefined {
  for (const k of query.keys()) {
    if (k === 'fields' || extra.includes(k)) continue;
    if (filters && (RESERVED.has(k) || known.has(k))) continue;
    if (!filters && (k === 'return_timeout' || k === 'return_records')) continue;
    return { param: k };
  }
  for (const f of fieldsOf(query) ?? []) {
    if (f === '*' || f === '**') continue;
    if (!known.has(f)) return { param: 'fields', field: f };
  }
  return undefined;
}

export function getPath(obj: Json | undefined, dotted: string): Json | undefined {
  let cur: Json | undefined = obj;
  for (const key of dotted.split('.')) {
    if (cur === null || cur === undefined || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

function setPath(obj: Obj, dotted: string, value: Json): void {
  const keys = dotted.split('.');
  let cur: Obj = obj;
  for (const key of keys.slice(0, -1)) {
    const next = cur[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[key] = {};
    cur = cur[key] as Obj;
  }
  cur[keys[keys.length - 1]] = value;
}

/**
 * Keep only the named fields (dotted paths; `*` or `**` means everything). The keys are
 * always kept, since ONTAP returns them with every record.
 */
export function project(record: Obj, fields: string[] | undefined, keys: string[] = ['uuid', 'name']): Obj {
  if (fields && (fields.includes('*') || fields.includes('**'))) return structuredClone(record);
  const out: Obj = {};
  for (const f of [...keys, ...(fields ?? [])]) {
    const v = getPath(record, f);
    if (v !== undefined) setPath(out, f, structuredClone(v));
    else projectArray(record, out, f.split('.'));
  }
  return out;
}

/** `volumes.name` of `{volumes:[{name,uuid}]}` is `{volumes:[{name}]}`, as ONTAP answers. */
function projectArray(src: Obj, out: Obj, keys: string[]): void {
  for (let i = 1; i < keys.length; i++) {
    const head = keys.slice(0, i).join('.');
    const arr = getPath(src, head);
    if (!Array.isArray(arr)) continue;
    const prev = getPath(out, head);
    const into = Array.isArray(prev) ? (prev as Obj[]) : arr.map(() => ({}) as Obj);
    arr.forEach((el, j) => {
      if (el && typeof el === 'object' && !Array.isArray(el)) {
        const v = getPath(el, keys.slice(i).join('.'));
        if (v !== undefined) setPath(into[j], keys.slice(i).join('.'), structuredClone(v));
      }
    });
    setPath(out, head, into);
    return;
  }
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+?^${}()[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${body}$`, 'i');
}

/**
 * Does the value at a field match an ONTAP query expression? `a|b` is either, `!a` is
 * not a, `*` matches any run of characters, `<N` `>N` `<=N` `>=N` compare numbers.
 * Arrays match when any element matches; booleans compare as true/false.
 */
export function matchesExpr(value: Json | undefined, expr: string): boolean {
  return expr.split('|').some((alt) => matchOne(value, alt));
}

function matchOne(value: Json | undefined, alt: string): boolean {
  if (alt.startsWith('!')) return !matchOne(value, alt.slice(1));
  if (value === undefined || value === null) return alt === '' || alt === 'null';
  if (Array.isArray(value)) return value.some((v) => matchOne(v, alt));
  if (typeof value === 'object') return false;
  const s = String(value);
  const cmp = /^(<=|>=|<|>)(-?\d+(?:\.\d+)?)$/.exec(alt);
  if (cmp && s !== '' && !Number.isNaN(Number(s))) {
    const a = Number(s);
    const b = Number(cmp[2]);
    return cmp[1] === '<' ? a < b : cmp[1] === '>' ? a > b : cmp[1] === '<=' ? a <= b : a >= b;
  }
  if (alt.includes('*')) return globToRegExp(alt).test(s);
  return s.toLowerCase() === alt.toLowerCase();
}

/** Filters from a query string: every parameter that is not reserved. */
export function filtersOf(query: URLSearchParams): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of query) if (!RESERVED.has(k)) out.push([k, v]);
  return out;
}

export function matchesAll(record: Obj, filters: [string, string][]): boolean {
  return filters.every(([field, expr]) => matchesExpr(getPath(record, field), expr));
}

export function fieldsOf(query: URLSearchParams): string[] | undefined {
  const raw = query.getAll('fields');
  if (raw.length === 0) return undefined;
  return raw.flatMap((f) => f.split(',')).map((f) => f.trim()).filter(Boolean);
}

/**
 * Bodies arrive nested (`{"clone":{"parent_volume":{"name":"v"}}}`) or flattened
 * (`{"clone.parent_volume.name":"v"}`) or mixed; turn any of them into the nested form.
 */
export function unflatten(body: Json | undefined): Obj {
  const out: Obj = {};
  if (body === null || body === undefined || typeof body !== 'object' || Array.isArray(body)) return out;
  for (const [k, v] of Object.entries(body)) {
    const value = v !== null && typeof v === 'object' && !Array.isArray(v) ? unflatten(v) : v;
    const existing = getPath(out, k);
    if (existing && typeof existing === 'object' && !Array.isArray(existing) && value && typeof value === 'object' && !Array.isArray(value)) {
      setPath(out, k, deepMerge(existing as Obj, value as Obj));
    } else setPath(out, k, value);
  }
  return out;
}

function deepMerge(a: Obj, b: Obj): Obj {
  const out: Obj = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = cur && typeof cur === 'object' && !Array.isArray(cur) && v && typeof v === 'object' && !Array.isArray(v) ? deepMerge(cur as Obj, v as Obj) : v;
  }
  return out;
}
