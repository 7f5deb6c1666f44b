// Man pages made from the text a tool prints for --help, so the two cannot say different
// things: the page's DESCRIPTION is that text, verbatim (no-fill mode), and only the NAME
// line and SEE ALSO are added. scripts/gen-man.ts runs the compiled executable for each
// tool and writes dist/man/<tool>.8; test/e2e/man.test.ts renders each page with groff
// and compares it with --help.

/** One line for the NAME section (whatis/apropos), per tool. */
export const MAN_TOOLS: Record<string, string> = {
  autosnap: 'Proxmox VE guest snapshots on a schedule, with retention (cv4pve-autosnap compatible)',
  'pve-snapshot': 'manual snapshots of any VM or container in a Proxmox VE cluster',
  'ontap-snapshot': 'NetApp ONTAP volume snapshots, file clones and FlexClone mounts for Proxmox VE NFS storages',
  'backup-hook': 'vzdump hook script: wake the backup server, coordinate the nodes, shut it down after the last',
  'backup-wakeup': 'wake the backup server before the nightly backup and wait until it answers',
  'backup-sync': 'mirror directories of the node to the backup server',
};

/** A line of text as roff reads it literally: backslashes escaped, no request at its start. */
function roffLine(line: string): string {
  const escaped = line.replace(/\\/g, '\\e').replace(/-/g, '\\-');
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}

export function helpToMan(tool: string, help: string, version: string, date: string): string {
  const name = MAN_TOOLS[tool];
  if (!name) throw new Error(`no man page description for ${tool}`);
  const others = Object.keys(MAN_TOOLS).filter((t) => t !== tool);
  const lines = help.replace(/\s+$/, '').split('\n');
  return [
    `.TH ${tool.toUpperCase()} 8 "${date}" "autosnap ${version}" "System Administration"`,
    '.SH NAME',
    `${roffLine(tool)} \\- ${roffLine(name)}`,
    '.SH DESCRIPTION',
    // the --help text as it is: no filling, no adjusting, no hyphenation
    '.nf',
    '.nh',
    '.ad l',
    ...lines.map((l) => (l === '' ? '.sp' : roffLine(l))),
    '.fi',
    '.SH FILES',
    '/etc/autosnap/autosnap.conf',
    '.br',
    '/opt/autosnap/share/doc/ (the guides, operator.md first)',
    '.SH SEE ALSO',
    others.map((t, i) => `.BR ${t} (8)${i < others.length - 1 ? ',' : ''}`).join('\n'),
    '',
  ].join('\n');
}
