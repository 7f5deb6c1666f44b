// What every ontap-snapshot command works with: the parsed options, the configs, a lazy
// Proxmox client and one ONTAP client per cluster (several storages may share one).
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_CONFIG_PATH, loadConfig, type Config } from '../../core/config.ts';
import { connect } from '../../cli/connect.ts';
import { UsageError } from '../../core/errors.ts';
import type { Parsed } from '../../cli/args.ts';
import type { Format } from '../../core/output.ts';
import type { PveClient } from '../../clients/pve/types.ts';
import { connectOntap } from '../../domain/ontap/connect.ts';
import { legacyPveConfig, ontapTargetFor } from '../../domain/ontap/config.ts';
import { mapStorage, type Mapped, type NfsStorage } from '../../domain/ontap/mapping.ts';
import type { Ontap } from '../../clients/ontap/types.ts';

export interface Ctx {
  args: Parsed;
  format: Format;
  /** ONTAP settings are looked up in these, first wins */
  configs: Config[];
  pveConfig: Config;
  now: Date;
  pve(): Promise<PveClient>;
  /** the ONTAP client for a storage, or undefined when no config names its cluster */
  ontapFor(storage: string): Promise<Ontap | undefined>;
  /** is the storage named in a config section of its own (not only by [ontap] defaults) */
  namedInConfig(storage: string): boolean;
  /**
   * Every storage's config the caller may see (GET /storage). Not GET /storage/{id}: the
   * schema guards that with Datastore.Allocate, the list only with Datastore.Audit.
   * `fresh` skips the copy read earlier in this run.
   */
  storageList(fresh?: boolean): Promise<Record<string, unknown>[]>;
  /** the Proxmox storage's config; a UsageError when it does not exist */
  storageConfig(storage: string): Promise<NfsStorage>;
  /** storage → ONTAP client + volume, or an error naming what is missing */
  map(storage: string): Promise<{ ontap: Ontap; mapped: Mapped }>;
  close(): Promise<void>;
}

/**
 * The bundle config to read: --config, AUTOSNAP_CONFIG, the bundle's default file, and
 * when none of them exists ./config.ini, where the original tool looked by default.
 */
export function bundleConfigPath(args: Parsed, env: Record<string, string | undefined>, exists: (p: string) => boolean = fs.existsSync): string | undefined {
  if (typeof args.config === 'string' && args.config) return args.config;
  if (env.AUTOSNAP_CONFIG) return env.AUTOSNAP_CONFIG;
  if (!exists(DEFAULT_CONFIG_PATH) && exists('config.ini')) return path.resolve('config.ini');
  return undefined;
}

/**
 * The config files: the ONTAP one (--ontap-config, AUTOSNAP_ONTAP_CONFIG) before the
 * bundle's, where the [ontap ...] sections are looked up; and the one whose Proxmox
 * settings are used (the bundle's [pve] first, the original config.ini's [proxmox] otherwise).
 */
function loadConfigs(args: Parsed, env: Record<string, string | undefined>): { configs: Config[]; pveConfig: Config } {
  const bundle = loadConfig({ config: bundleConfigPath(args, env) }, env);
  const ontapFile = typeof args['ontap-config'] === 'string' && args['ontap-config'] ? args['ontap-config'] : env.AUTOSNAP_ONTAP_CONFIG || undefined;
  const ontapCfg = ontapFile ? loadConfig({ config: ontapFile }, {}) : undefined;
  const configs = [ontapCfg, bundle].filter((c): c is Config => Boolean(c));
  let pveConfig = bundle;
  if (!bundle.get('pve', 'host')) {
    const legacy = (ontapCfg && legacyPveConfig(ontapCfg)) ?? legacyPveConfig(bundle);
    if (legacy) pveConfig = legacy;
  }
  return { configs, pveConfig };
}

/** A storage.cfg entry (GET /storage) as the NFS storage fields the mapping reads. */
function nfsStorageOf(storage: string, cfg: Record<string, unknown>): NfsStorage {
  const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
  return {
    storage,
    type: String(cfg.type ?? ''),
    server: str(cfg.server),
    export: str(cfg.export),
    content: str(cfg.content),
    options: str(cfg.options),
    nodes: str(cfg.nodes),
    path: str(cfg.path),
  };
}

export function makeContext(args: Parsed, format: Format, env: Record<string, string | undefined> = process.env): Ctx {
  const { configs, pveConfig } = loadConfigs(args, env);
  let client: Promise<PveClient> | undefined;
  const ontaps = new Map<string, Promise<Ontap>>();
  const storages = new Map<string, Promise<NfsStorage>>();
  let list: Promise<Record<string, unknown>[]> | undefined;
  const ctx: Ctx = {
    args,
    format,
    configs,
    pveConfig,
    now: new Date(),
    pve: () => (client ??= connect(args, pveConfig)),
    async ontapFor(storage) {
      const t = ontapTargetFor(storage, configs);
      if (!t) return undefined;
      const key = `${t.host.host}:${t.host.port}:${t.user}:${t.api}`;
      let o = ontaps.get(key);
      if (!o) {
        o = connectOntap(t);
        ontaps.set(key, o);
      }
      return o;
    },
    storageList(fresh = false) {
      if (!list || fresh) {
        list = (async () => {
          const pve = await ctx.pve();
          const rows = await pve.get<Record<string, unknown>[]>('/storage');
          return Array.isArray(rows) ? rows : [];
        })();
      }
      return list;
    },
    namedInConfig: (storage) => ontapTargetFor(storage, configs)?.specific === true,
    storageConfig(storage) {
      let s = storages.get(storage);
      if (!s) {
        s = (async () => {
          const cfg = (await ctx.storageList()).find((s) => s.storage === storage);
          if (!cfg) throw new UsageError(`storage '${storage}' does not exist`);
          return nfsStorageOf(storage, cfg);
        })();
        storages.set(storage, s);
      }
      return s;
    },
    async map(storage) {
      const st = await ctx.storageConfig(storage);
      if (st.type !== 'nfs') throw new UsageError(`storage '${storage}' is of type ${st.type || 'unknown'}, not nfs`);
      const ontap = await ctx.ontapFor(storage);
      if (!ontap) {
        const where = configs.map((c) => c.path).filter(Boolean).join(' or ') || 'the config file';
        throw new UsageError(`no ONTAP cluster configured for storage '${storage}': add a section [ontap ${storage}] (or [ontap]) with host, user, password to ${where}`);
      }
      return { ontap, mapped: await mapStorage(ontap, st) };
    },
    async close() {
      if (client) await (await client.catch(() => undefined))?.close();
    },
  };
  return ctx;
}
