// Who a client acts as, for messages and for root@pam-only actions.
import type { PveClient } from './types.ts';

/** Who the client acts as, when known: pvesh runs as root@pam on the node. */
export function callerOf(client: PveClient): string | undefined {
  if (client.transport === 'pvesh') return 'root@pam';
  // the API transport knows its token id or login name (client.ts keeps it on its impl)
  const impl = (client as { impl?: { principal?: unknown } }).impl;
  return typeof impl?.principal === 'string' ? impl.principal : undefined;
}
