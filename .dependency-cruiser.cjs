// The direction of imports, checked by `npm run lint` (and by test/unit/architecture.test.ts,
// so the suite fails too). The layers, top to bottom; a module imports its own layer or
// the ones below, never above:
//   scripts/ → lib/tools/ → lib/cli/ → lib/domain/ → lib/clients/ → lib/core/
// The simulators (lib/sim/) stand beside the tools: they may use core, the argument
// parser and pure domain code, and no production module imports them.
// docs/architecture.md says what lives where.
const layer = (name, allowedBelow) => ({ name, allowedBelow });
const LAYERS = [
  layer('core', []),
  layer('clients', ['core']),
  layer('domain', ['clients', 'core']),
  layer('cli', ['domain', 'clients', 'core']),
  layer('tools', ['cli', 'domain', 'clients', 'core']),
];
const ALL = ['core', 'clients', 'domain', 'cli', 'tools', 'sim'];
const upward = LAYERS.map(({ name, allowedBelow }) => ({
  name: `${name}-imports-downward-only`,
  comment: `lib/${name} may import ${[name, ...allowedBelow].map((l) => `lib/${l}`).join(', ')} only`,
  severity: 'error',
  from: { path: `^lib/${name}/` },
  to: { path: `^lib/(${ALL.filter((l) => l !== name && !allowedBelow.includes(l)).join('|')})/` },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'an import cycle: the modules cannot be understood (or loaded) one at a time',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...upward,
    {
      name: 'no-tool-imports-another-tool',
      comment: 'what two tools share belongs in lib/domain (or lib/cli for the frame)',
      severity: 'error',
      from: { path: '^lib/tools/([^/]+)/' },
      to: { path: '^lib/tools/', pathNot: '^lib/tools/$1/' },
    },
    {
      name: 'no-client-imports-another-client',
      comment: 'the Proxmox and ONTAP clients share only lib/core',
      severity: 'error',
      from: { path: '^lib/clients/([^/]+)/' },
      to: { path: '^lib/clients/', pathNot: '^lib/clients/$1/' },
    },
    {
      name: 'sim-uses-no-tool',
      comment: 'the simulators model Proxmox and ONTAP; they must not share code paths with the tools they test',
      severity: 'error',
      from: { path: '^lib/sim/' },
      to: { path: '^lib/(tools|clients)/' },
    },
    {
      name: 'no-lib-imports-scripts-or-tests',
      severity: 'error',
      from: { path: '^lib/' },
      to: { path: '^(scripts|test|bench)/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/' },
  },
};
