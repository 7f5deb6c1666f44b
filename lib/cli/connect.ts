// From the connection options (command line, environment, config section [pve]) to a
// PveClient. The command line wins over the environment, which wins over the config file.
// Secrets come from files, the environment or the (mode 0600) config file; every secret
// is registered for redaction the moment it is read.
import fs from 'node:fs';
import path from 'node:path';
import { Client, type ClientOptions } from '../clients/pve/client.ts';
import type { Auth } from '../clients/pve/api.ts';
import { parseFingerprints, parseHostList } from '../core/hosts.ts';
import { readCaFile } from '../core/https.ts';
import type { PveClient } from '../clients/pve/types.ts';
import { checkConfig, readSecretFile, type Config } from '../core/config.ts';
import { forgetWarnings, saveWarnings, shownOnce } from '../domain/notify/once.ts';
import { decodePasswordFile } from './cv4pve-password.ts';
import { AppError, ConnectionError, UsageError } from '../core/errors.ts';
import { debug, registerSecret, warn } from '../core/log.ts';
import { parseYesNo } from '../core/yesno.ts';
import { durationMs } from '../core/duration.ts';
import { PVE_SECTION } from './pve-section.ts';

export { PVE_SECTION };

type Env = Record<string, string | undefined>;

type Args = Record<string, unknown>;

const TOKEN_ID = /^([^\s@!=]+@[A-Za-z0-9.\-_]+)!([A-Za-z][A-Za-z0-9.\-_]+)$/;
const USER = /^[^\s@:]+@[A-Za-z0-9.\-_]+$/;

export interface Environment {
  env: Env;
  /** does /etc/pve exist (are we on a cluster node) */
  onNode(): boolean;
  /** the pvesh executable on PATH, if any */
  findPvesh(): string | undefined;
}

const realEnvironment: Environment = {
  env: process.env,
  onNode: () => fs.existsSync('/etc/pve'),
  findPvesh: () => which('pvesh', process.env.PATH),
};

function which(cmd: string, pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? '').split(':')) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

function str(v: unknown): string | undefined {
  if (Array.isArray(v)) v = v[v.length - 1];
  if (v === undefined || v === null || v === false || v === '') return undefined;
  return String(v);
}


/** `USER@REALM!ID=SECRET` or `USER@REALM!ID` → parts; a space after the id works too. */
export function parseApiToken(text: string, where: string): { tokenId: string; secret?: string } {
  const t = text.trim().replace(/^PVEAPIToken[= ]/, '');
  // [\s\S]: a secret holding a newline is still everything after the id, so it is
  // registered and never shown (with `.` it did not match and the whole text was echoed)
  const m = /^([^=\s]*)(?:[=\s]([\s\S]*))?$/.exec(t);
  const id = m?.[1] ?? '';
  const secret = m?.[2]?.trim();
  if (secret) registerSecret(secret);
  if (!TOKEN_ID.test(id)) {
    throw new UsageError(`${where}: '${id}' is not an API token id (expected USER@REALM!TOKENID, e.g. root@pam!autosnap)`);
  }
  // a newline or other control character cannot go into the Authorization header: said
  // here, in one line that names the token id and never the secret
  // eslint-disable-next-line no-control-regex
  if (secret && /[\x00-\x1f\x7f]/.test(secret)) throw new UsageError(`${where}: the secret of ${id} holds a control character (a newline?)`);
  return { tokenId: id, secret: secret || undefined };
}

/** One place options come from; the first level that says anything about a topic decides it. */
interface Level {
  name: string;
  host?: string;
  apiToken?: string;
  apiTokenFile?: string;
  apiTokenSecret?: string;
  username?: string;
  password?: string;
  passwordFile?: string;
  /** the file was named as cv4pve does (`--password file:PATH`): it may hold cv4pve's form */
  passwordFileCv4pve?: boolean;
  fingerprint?: string | string[];
  caFile?: string;
  insecure?: boolean;
  timeout?: string;
  transport?: string;
  pvesh?: string;
}

function cliLevel(args: Args): Level {
  let password = str(args.password);
  let passwordFile = str(args['password-file']);
  let cv4pveFile = false;
  if (password?.startsWith('file:')) {
    // cv4pve's way of keeping the password off the command line
    if (passwordFile === undefined) {
      passwordFile = password.slice(5);
      cv4pveFile = true;
    }
    password = undefined;
  } else if (password !== undefined) {
    registerSecret(password);
    warn('--password: the password is visible in the process list; use --password-file or AUTOSNAP_PASSWORD');
  }
  const fp = args.fingerprint;
  return {
    name: 'command line',
    host: str(args.host),
    apiToken: str(args['api-token']),
    apiTokenFile: str(args['api-token-file']),
    username: str(args.username),
    password,
    passwordFile,
    passwordFileCv4pve: cv4pveFile || undefined,
    fingerprint: fp === undefined || fp === '' ? undefined : (fp as string | string[]),
    caFile: str(args['ca-file']),
    insecure: args.insecure === true ? true : undefined,
    timeout: str(args.timeout),
    transport: str(args.transport),
    pvesh: str(args.pvesh),
  };
}

function envLevel(env: Env): Level {
  if (env.AUTOSNAP_API_TOKEN_SECRET) registerSecret(env.AUTOSNAP_API_TOKEN_SECRET);
  if (env.AUTOSNAP_PASSWORD) registerSecret(env.AUTOSNAP_PASSWORD);
  return {
    name: 'environment',
    host: env.AUTOSNAP_HOST || undefined,
    apiToken: env.AUTOSNAP_API_TOKEN || undefined,
    apiTokenSecret: env.AUTOSNAP_API_TOKEN_SECRET || undefined,
    username: env.AUTOSNAP_USERNAME || undefined,
    password: env.AUTOSNAP_PASSWORD || undefined,
    fingerprint: env.AUTOSNAP_FINGERPRINT || undefined,
    transport: env.AUTOSNAP_TRANSPORT || undefined,
  };
}

function configLevel(config: Config): Level {
  const g = (k: string) => config.get('pve', k);
  const where = `${config.path ?? 'config'} [pve]`;
  const insecureText = g('insecure');
  const insecure = insecureText === undefined ? undefined : parseYesNo(insecureText, `${where} insecure`);
  // registered here too: a config built in memory (tests, the ONTAP layout) skipped loadConfig
  registerSecret(g('api_token_secret'));
  return {
    name: where,
    host: g('host'),
    apiToken: g('api_token'),
    apiTokenFile: g('api_token_file'),
    apiTokenSecret: g('api_token_secret'),
    username: g('username'),
    password: g('password'),
    passwordFile: g('password_file'),
    fingerprint: g('fingerprint'),
    caFile: g('ca_file'),
    insecure: insecure || undefined,
    timeout: g('timeout'),
    transport: g('transport'),
    pvesh: g('pvesh'),
  };
}

function first<K extends keyof Level>(levels: Level[], key: K): { value: NonNullable<Level[K]>; level: Level } | undefined {
  for (const l of levels) if (l[key] !== undefined) return { value: l[key] as NonNullable<Level[K]>, level: l };
  return undefined;
}

function resolveAuth(levels: Level[]): Auth {
  // the first level naming a principal decides between token and password
  const decider = levels.find((l) => l.apiToken || l.username || l.apiTokenFile);
  for (const l of levels) {
    if (l.apiTokenFile && l.apiTokenSecret) {
      throw new UsageError(`${l.name}: api_token_file and api_token_secret contradict each other; choose one`);
    }
  }
  if (!decider) {
    throw new UsageError('no credentials: give --api-token USER@REALM!TOKENID with --api-token-file, or --username with --password-file (or set them in the config [pve] section)');
  }
  if (decider.username && (decider.apiToken || decider.apiTokenFile)) {
    throw new UsageError(`${decider.name}: give either an API token or a username, not both`);
  }
  return decider.username ? passwordAuth(levels, decider, decider.username) : tokenAuth(levels, decider);
}

/** A username: its password from the deciding level or, failing that, the first level after it that has one. */
function passwordAuth(levels: Level[], decider: Level, user: string): Auth {
  const username = user.trim();
  if (!USER.test(username)) throw new UsageError(`${decider.name}: username '${username}' must be USER@REALM (e.g. root@pam)`);
  const from = levels.slice(levels.indexOf(decider));
  let password: string | undefined;
  for (const l of from) {
    if (l.passwordFile) {
      password = readSecretFile(l.passwordFile, 'password');
      if (l.passwordFileCv4pve) {
        password = decodePasswordFile(password, l.passwordFile);
        registerSecret(password);
      }
      break;
    }
    if (l.password) {
      password = l.password;
      registerSecret(password);
      break;
    }
  }
  if (!password) throw new UsageError(`no password for ${username}: give --password-file FILE or set AUTOSNAP_PASSWORD`);
  return { kind: 'password', username, password };
}

/** A token: its id from the deciding level, the secret from the first level that has one. */
function tokenAuth(levels: Level[], decider: Level): Auth {
  let tokenId: string | undefined;
  let secret: string | undefined;
  if (decider.apiToken) ({ tokenId, secret } = parseApiToken(decider.apiToken, decider.name));
  if (decider.apiToken && secret && decider.name === 'command line') {
    const text = '--api-token with the secret: it is visible in the process list; use --api-token-file or AUTOSNAP_API_TOKEN_SECRET';
    // the same every run: once into the journal, every time on a terminal
    if (shownOnce('cli-secret', text)) warn(text);
    saveWarnings();
  } else forgetWarnings(['cli-secret'], new Set());
  if (!secret) {
    // levels above the decider name no principal, but may hold the secret for it
    // (AUTOSNAP_API_TOKEN_SECRET with the token id from the config): the earlier wins
    for (const l of levels) {
      if (l.apiTokenFile) {
        const content = readSecretFile(l.apiTokenFile, 'API token');
        // the file may hold the secret alone or the whole token
        if (TOKEN_ID.test(content.split(/[=\s]/)[0])) {
          const full = parseApiToken(content, l.apiTokenFile);
          if (tokenId && full.tokenId !== tokenId) throw new UsageError(`${l.apiTokenFile} holds a token for ${full.tokenId}, not ${tokenId}`);
          tokenId ??= full.tokenId;
          secret = full.secret;
        } else secret = content;
        break;
      }
      if (l.apiTokenSecret) {
        secret = l.apiTokenSecret;
        break;
      }
      if (l !== decider && l.apiToken) {
        const t = parseApiToken(l.apiToken, l.name);
        if (t.secret && (!tokenId || t.tokenId === tokenId)) {
          tokenId ??= t.tokenId;
          secret = t.secret;
          break;
        }
      }
    }
  }
  if (!tokenId) throw new UsageError(`${decider.name}: an API token file needs the token id too: give --api-token USER@REALM!TOKENID`);
  if (!secret) throw new UsageError(`no secret for API token ${tokenId}: give --api-token-file FILE, set AUTOSNAP_API_TOKEN_SECRET, or api_token_file in the config [pve] section`);
  registerSecret(secret);
  return { kind: 'token', tokenId, secret };
}

/**
 * Resolve every connection option into client options. Pure apart from reading the files
 * it is told to read (secrets, CA) and looking for pvesh; throws UsageError with one line.
 */
export function resolveClientOptions(args: Args, config: Config, environment: Environment = realEnvironment): ClientOptions {
  checkConfig(config, [PVE_SECTION]);
  const levels = [cliLevel(args), envLevel(environment.env), configLevel(config)];
  const transportOpt = first(levels, 'transport');
  const host = first(levels, 'host');
  let transport: 'api' | 'pvesh';
  if (transportOpt) {
    const t = transportOpt.value.toLowerCase();
    if (t !== 'api' && t !== 'pvesh') throw new UsageError(`${transportOpt.level.name}: transport '${transportOpt.value}' is not api or pvesh`);
    transport = t;
  } else {
    transport = !host && environment.onNode() && environment.findPvesh() ? 'pvesh' : 'api';
  }

  const timeoutOpt = first(levels, 'timeout');
  let timeoutMs = 30_000;
  if (timeoutOpt) {
    const ms = durationMs(timeoutOpt.value);
    if (ms === undefined || !(ms > 0) || ms > 86_400_000) {
      throw new UsageError(`${timeoutOpt.level.name}: timeout '${timeoutOpt.value}' is not a duration of more than 0 up to 1 day (e.g. 30, 30s, 5m)`);
    }
    timeoutMs = ms;
  }

  if (transport === 'pvesh') {
    const p = first(levels, 'pvesh')?.value;
    if (host) debug(`transport pvesh: ignoring host ${host.value}`);
    return { transport, pvesh: { path: p, timeoutMs } };
  }

  if (!host) throw new UsageError('no host: give --host HOST[:PORT] (or host in the config [pve] section), or run on a node with --transport pvesh');
  // `a,,b` is a list with a hole (a variable left empty?): say so rather than skip it
  if (host.value.split(',').some((h) => h.trim() === '')) throw new UsageError(`${host.level.name}: host list '${host.value}' has an empty entry`);
  const hosts = parseHostList(host.value);

  // TLS: the first level that says anything about it decides; within it, one way only
  const tlsLevel = levels.find((l) => l.fingerprint !== undefined || l.caFile !== undefined || l.insecure);
  let fingerprints: string[] | undefined;
  let ca: string | undefined;
  let insecure = false;
  if (tlsLevel) {
    const ways = [tlsLevel.fingerprint !== undefined && '--fingerprint', tlsLevel.caFile !== undefined && '--ca-file', tlsLevel.insecure && '--insecure'].filter(Boolean);
    if (ways.length > 1) throw new UsageError(`${tlsLevel.name}: ${ways.join(' and ')} contradict each other; choose one`);
    if (tlsLevel.fingerprint !== undefined) fingerprints = parseFingerprints(tlsLevel.fingerprint);
    if (tlsLevel.caFile !== undefined) ca = readCaFile(tlsLevel.caFile);
    insecure = tlsLevel.insecure === true;
  }
  if (args['validate-certificate'] === true && insecure && tlsLevel?.name === 'command line') {
    throw new UsageError('--validate-certificate and --insecure contradict each other; choose one');
  }

  const auth = resolveAuth(levels);
  return { transport, api: { hosts, auth, fingerprints, ca, insecure, timeoutMs } };
}

/** A client from resolved options (tests and benchmarks build these directly). */
export function createClient(options: ClientOptions): Client {
  return new Client(options);
}

/**
 * Build the client from the global options and make sure it can talk: a ticket login, or
 * for a token one `GET /version`. Unreachable hosts and refused credentials are exit 3.
 */
export async function connect(args: Args, config: Config, opts: { probe?: boolean; environment?: Environment } = {}): Promise<PveClient> {
  const client = createClient(resolveClientOptions(args, config, opts.environment));
  if (opts.probe !== false && client.transport === 'api') {
    let v: { version?: string } | undefined;
    try {
      v = await client.get<{ version?: string }>('/version');
    } catch (e) {
      // a node answering 500 to the cheapest call there is cannot run anything: exit 3
      if (e instanceof AppError && ((e as { status?: number }).status ?? 0) >= 500) throw new ConnectionError(`cluster not usable: ${e.message}`, { cause: e });
      throw e;
    }
    debug(`connected: Proxmox VE ${v?.version ?? '?'}`);
  }
  return client;
}
