// The options every tool of the bundle accepts, as one table: the argument parser takes
// its list of global options from here and every tool's --help prints the one block
// rendered from it, so the parser and the help text cannot drift apart. An option that
// only one tool reads does not belong here but in that tool's own part of its help.

export interface GlobalOption {
  /** long name without dashes */
  name: string;
  /** one-letter alias */
  short?: string;
  /** placeholder of the value; absent for a flag */
  arg?: string;
  /** what it does, one or more lines */
  text: string;
}

export const GLOBAL_OPTION_TABLE: readonly GlobalOption[] = [
  { name: 'host', arg: 'HOST[:PORT],...', text: 'Proxmox VE nodes, tried in order (config [pve] host)' },
  { name: 'api-token', arg: 'USER@REALM!ID', text: 'API token id; its secret from --api-token-file, AUTOSNAP_API_TOKEN_SECRET\nor the config [pve] api_token_secret' },
  { name: 'api-token-file', arg: 'FILE', text: 'file holding the token secret (mode 600)' },
  { name: 'username', arg: 'USER@REALM', text: 'ticket login instead of a token' },
  { name: 'password-file', arg: 'FILE', text: 'file holding the password (or AUTOSNAP_PASSWORD)' },
  { name: 'password', arg: 'file:PATH', text: "cv4pve's way to name the password file" },
  { name: 'fingerprint', arg: 'FP[,FP...]', text: 'pin the node certificates (SHA-256)' },
  { name: 'ca-file', arg: 'FILE', text: 'trust this CA for the node certificates' },
  { name: 'insecure', text: 'do not verify the node certificate (not recommended)' },
  { name: 'validate-certificate', text: 'accepted for cv4pve; verification is the default' },
  { name: 'timeout', arg: 'SECONDS', text: 'per request (default 30)' },
  { name: 'transport', arg: 'api|pvesh', text: 'HTTPS API or the local pvesh (default: pvesh on a node\nwhen no host is set, api otherwise)' },
  { name: 'pvesh', arg: 'PATH', text: 'the pvesh to run with --transport pvesh' },
  { name: 'config', arg: 'FILE', text: 'config file (default /etc/autosnap/autosnap.conf, or AUTOSNAP_CONFIG)' },
  { name: 'output', short: 'o', arg: 'FORMAT', text: 'text, json, jsonpretty, markdown, html, unicode, unicodeAlt' },
  {
    name: 'max-parallel',
    arg: 'N',
    text: 'guests worked on at once. autosnap: 12, since it also keeps to\n--max-per-node (3) per node; pve-snapshot: 4, since it has no per-node\nbound and one node would otherwise get every task',
  },
  { name: 'tz', arg: 'ZONE', text: 'time zone of the times shown (autosnap: also of snapshot names and\ncalendar rules); default TZ, else the system zone' },
  { name: 'dry-run', text: 'change nothing; say what would be done' },
  { name: 'debug', text: 'more detail on stderr' },
  { name: 'quiet', text: 'warnings and errors only' },
  { name: 'help', short: 'h', text: 'this help' },
  { name: 'version', short: 'V', text: 'the version' },
];

const WIDTH = 29;

function label(o: GlobalOption): string {
  return `${o.short ? `-${o.short}, ` : ''}--${o.name}${o.arg ? ` ${o.arg}` : ''}`;
}

/** The global-options block every tool's --help ends with. */
export function globalHelp(): string {
  const lines = [
    'Global options (the same in every tool of the bundle; the connection options matter',
    'to the tools that talk to Proxmox VE):',
  ];
  for (const o of GLOBAL_OPTION_TABLE) {
    const [first, ...more] = o.text.split('\n');
    const head = `  ${label(o)}`;
    lines.push(head.length < WIDTH ? head.padEnd(WIDTH) + first : `${head}\n${' '.repeat(WIDTH)}${first}`);
    for (const m of more) lines.push(' '.repeat(WIDTH) + m);
  }
  lines.push(`  ${'@FILE'.padEnd(WIDTH - 2)}read arguments from FILE, one per line (cv4pve .parm files)`);
  return lines.join('\n');
}
