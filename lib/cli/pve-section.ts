// The keys of the [pve] section, apart from connect.ts: the option parser checks them for
// every command, and one that never connects (plan --from-file, --help) should not load
// the HTTPS transport to do it.
import type { SectionKeys } from '../core/config.ts';

/** The keys of `[pve]`; every tool that talks to Proxmox VE refuses any other. */
export const PVE_SECTION: SectionKeys = {
  section: 'pve',
  keys: ['host', 'api_token', 'api_token_file', 'api_token_secret', 'username', 'password', 'password_file', 'fingerprint', 'ca_file', 'insecure', 'timeout', 'transport', 'pvesh'],
  hints: { token: "did you mean 'api_token'?", user: "did you mean 'username'?", port: "give the port with the host: 'host = pve1:8006'" },
};
