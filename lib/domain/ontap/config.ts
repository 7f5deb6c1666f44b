// Where ontap-snapshot finds the ONTAP cluster behind a Proxmox storage, and (for the
// original tool's config.ini) the Proxmox connection too. Two layouts, told apart by
// their sections:
//   bundle:   [ontap <storageid>] or [ontap] defaults: host, user, password | password_file,
//             verify, fingerprint, ca_file, api = rest|zapi|auto, job_timeout
//   original: [proxmox] (or [DEFAULT]): proxmox_host, proxmox_user, proxmox_pass,
//             proxmox_verify; one [<storageid>] per storage: host, user, pass, verify
// A `-CLONE` suffix (and our `-CLONE-<snapshot>`) is stripped when looking a storage up,
// so a mounted clone finds its parent's cluster.
import { configFromIni, readSecretFile, type Config } from '../../core/config.ts';
import { UsageError } from '../../core/errors.ts';
import { registerSecret } from '../../core/log.ts';
import { yesNo } from '../../core/yesno.ts';
import { durationMs } from '../../core/duration.ts';
import type { IniSection } from '../../core/ini.ts';
import { parseFingerprints, parseHostList, shownHost, type HostPort } from '../../core/hosts.ts';
import { readCaFile, type Trust } from '../../core/https.ts';

export interface OntapTarget extends Trust {
  host: HostPort;
  user: string;
  password: string;
  api: 'rest' | 'zapi' | 'auto';
  jobTimeoutMs: number;
  /** where the settings came from, for messages */
  where: string;
  /** named for this storage (not only the [ontap] defaults) */
  specific: boolean;
}


/** The storage id a config section is looked up by: clone suffixes stripped. */
export function baseStorageId(storage: string): string {
  return storage.replace(/-CLONE(-.*)?$/i, '');
}

function values(config: Config, name: string): { section: IniSection; where: string } | undefined {
  const s = config.ini.sections.find((x) => x.name.toLowerCase() === name.toLowerCase());
  return s ? { section: s, where: `${config.path ?? 'config'} [${s.name}]` } : undefined;
}

function get(v: Record<string, string>, ...keys: string[]): string | undefined {
  for (const k of keys) if (v[k] !== undefined && v[k] !== '') return v[k];
  return undefined;
}

/** Is this section an original-layout storage section (not ours, not [proxmox])? */
function legacyStorageSection(config: Config, storage: string): { section: IniSection; where: string } | undefined {
  for (const id of [storage, baseStorageId(storage)]) {
    const hit = values(config, id);
    // configparser hands [DEFAULT]'s keys to every section, host included
    const host = hit?.section.values.host ?? values(config, 'DEFAULT')?.section.values.host;
    if (hit && !/^(ontap|pve|proxmox|default)\b/i.test(hit.section.name) && host) return hit;
  }
  return undefined;
}

/**
 * The ONTAP cluster for a storage, or undefined when no config mentions it. The first
 * config (e.g. --ontap-config) wins over the later ones (the bundle config).
 */
export function ontapTargetFor(storage: string, configs: Config[]): OntapTarget | undefined {
  for (const config of configs) {
    const specific = values(config, `ontap ${storage}`) ?? values(config, `ontap ${baseStorageId(storage)}`) ?? legacyStorageSection(config, storage);
    const defaults = values(config, 'ontap');
    if (!specific && !defaults) continue;
    // the original layout's [DEFAULT] section is inherited by every section, as in Python
    const legacyDefaults = specific && !/^ontap /i.test(specific.section.name) ? pick(values(config, 'DEFAULT')?.section.values, ['host', 'user', 'pass', 'verify']) : {};
    const merged = mergeLevels([defaults?.section.values ?? {}, legacyDefaults, specific?.section.values ?? {}]);
    return { ...buildTarget(merged, (specific ?? defaults)!.where), specific: Boolean(specific) };
  }
  return undefined;
}

function pick(v: Record<string, string> | undefined, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) if (v?.[k] !== undefined) out[k] = v[k];
  return out;
}

/**
 * Later levels win. `pass` is the original layout's `password`; a level that names a
 * password one way hides the other way from the levels below it.
 */
function mergeLevels(levels: Record<string, string>[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of levels) {
    const v = { ...raw };
    if (v.pass !== undefined) {
      v.password ??= v.pass;
      delete v.pass;
    }
    if (v.username !== undefined) {
      v.user ??= v.username;
      delete v.username;
    }
    if (v.password !== undefined) delete out.password_file;
    if (v.password_file !== undefined) delete out.password;
    Object.assign(out, v);
  }
  return out;
}

export function buildTarget(v: Record<string, string>, where: string): Omit<OntapTarget, 'specific'> {
  const hostText = get(v, 'host');
  if (!hostText) throw new UsageError(`${where}: no host (the ONTAP cluster management address)`);
  let host: HostPort;
  try {
    [host] = parseHostList(hostText, 443);
  } catch {
    throw new UsageError(`${where}: host '${shownHost(hostText)}' is not a host name or address`);
  }
  const user = get(v, 'user', 'username');
  if (!user) throw new UsageError(`${where}: no user`);
  let password = get(v, 'password', 'pass');
  const passwordFile = get(v, 'password_file');
  if (passwordFile) password = readSecretFile(passwordFile, 'ONTAP password');
  if (!password) throw new UsageError(`${where}: no password (password, password_file or pass)`);
  registerSecret(password);

  let insecure = false;
  let ca: string | undefined;
  let caFile = get(v, 'ca_file');
  const verify = get(v, 'verify');
  if (verify !== undefined && yesNo(verify) !== true) {
    if (yesNo(verify) === false) insecure = true;
    // the original tool handed verify to python-requests, which also takes a CA bundle path
    else if (verify.includes('/')) caFile ??= verify;
    else throw new UsageError(`${where}: verify '${verify}' is not yes, no or a CA file path`);
  }
  const fpText = get(v, 'fingerprint');
  let fingerprints: string[] | undefined;
  if (fpText) {
    try {
      fingerprints = parseFingerprints(fpText);
    } catch (e) {
      throw new UsageError(`${where}: ${(e as Error).message.replace(/^--fingerprint: /, 'fingerprint ')}`);
    }
  }
  if ([fingerprints, caFile, insecure || undefined].filter(Boolean).length > 1) {
    throw new UsageError(`${where}: fingerprint, ca_file and verify = no contradict each other; choose one`);
  }
  if (caFile) ca = readCaFile(caFile, where);
  const api = (get(v, 'api') ?? 'auto').toLowerCase();
  if (api !== 'rest' && api !== 'zapi' && api !== 'auto') throw new UsageError(`${where}: api '${api}' is not rest, zapi or auto`);
  const jt = get(v, 'job_timeout');
  let jobTimeoutMs = 300_000;
  if (jt !== undefined) {
    const ms = durationMs(jt);
    if (ms === undefined || ms < 1000) throw new UsageError(`${where}: job_timeout '${jt}' is not a duration of 1 s or more (e.g. 300, 5m)`);
    jobTimeoutMs = ms;
  }
  return { host, user, password, fingerprints, ca, insecure, api, jobTimeoutMs, where };
}

/**
 * The original layout's Proxmox settings as a bundle `[pve]` section, so the shared
 * connection code reads them. Undefined when the file has none.
 */
export function legacyPveConfig(config: Config): Config | undefined {
  const src = values(config, 'proxmox') ?? values(config, 'DEFAULT');
  const global = config.ini.global;
  const v = src?.section.values ?? (global.proxmox_host ? global : undefined);
  if (!v?.proxmox_host) return undefined;
  const where = src?.where ?? `${config.path ?? 'config'}`;
  const pve: Record<string, string> = { host: v.proxmox_host };
  if (v.proxmox_user) pve.username = v.proxmox_user.includes('@') ? v.proxmox_user : `${v.proxmox_user}@pam`;
  if (v.proxmox_pass) {
    registerSecret(v.proxmox_pass);
    pve.password = v.proxmox_pass;
  }
  const verify = v.proxmox_verify;
  if (verify !== undefined && verify !== '' && yesNo(verify) !== true) {
    if (yesNo(verify) === false) pve.insecure = 'yes';
    else if (verify.includes('/')) pve.ca_file = verify;
    else throw new UsageError(`${where}: proxmox_verify '${verify}' is not yes, no or a CA file path`);
  }
  return configFromIni({ global: {}, sections: [{ name: 'pve', line: src?.section.line ?? 0, values: pve }] }, config.path);
}
