// The PVE release the simulator imitates (the schema in data/pve-api is from 9.1).
export const VERSION = { version: '9.1.1', release: '9.1', repoid: '42db4a6cf' };
