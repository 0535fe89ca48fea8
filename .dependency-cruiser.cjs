// Which module may import which, checked by `npm run deps` (part of `npm test`).
// Type-only imports count: a type cycle or a type reaching across a layer is still a coupling.
// test/architecture/dependency-rules.test.ts runs these rules on a small fixture to show they bite.

/** @typedef {import('dependency-cruiser').IConfiguration} IConfiguration */

const PRODUCT = '^(engine|orders|gateway|persistence|config)/';

/** @type {IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Import cycle (type-only imports included). Move the shared piece into a module both ' +
        'sides import, or pass it in, so the modules form a tree.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'engine-imports-no-outer-layer',
      severity: 'error',
      comment:
        'engine/ is the core: it may not import orders/, gateway/, persistence/, config/, bench/ ' +
        'or test/. Define a port (an interface) in engine/ and let the outer module implement it.',
      from: { path: '^engine/' },
      to: { path: '^(orders|gateway|persistence|config|bench|test)/' },
    },
    {
      name: 'orders-imports-no-transport-or-storage',
      severity: 'error',
      comment:
        'orders/ may not import gateway/ or persistence/: the gateway and main.ts pass in what ' +
        'orders need (a store, a transport) through interfaces that orders/ defines.',
      from: { path: '^orders/' },
      to: { path: '^(gateway|persistence)/' },
    },
    {
      name: 'persistence-imports-no-gateway',
      severity: 'error',
      comment: 'persistence/ may not import gateway/: storage does not know about transports.',
      from: { path: '^persistence/' },
      to: { path: '^gateway/' },
    },
    {
      name: 'persistence-imports-no-orders-internals',
      severity: 'error',
      comment:
        'persistence/ may import orders/ only through orders/index.ts, never a file behind it.',
      from: { path: '^persistence/' },
      to: { path: '^orders/', pathNot: '^orders/index[.]ts$' },
    },
    {
      name: 'product-imports-no-test-or-bench',
      severity: 'error',
      comment:
        'engine/, orders/, gateway/, persistence/ and config/ ship; test/ and bench/ do not. ' +
        'Move what both need into the product, or keep it in test/ or bench/.',
      from: { path: PRODUCT },
      to: { path: '^(test|bench|console|tools)/' },
    },
    {
      name: 'product-imports-other-folders-through-index',
      severity: 'error',
      comment:
        "A product folder imports another product folder only through that folder's index.ts, " +
        'its public face (style.md habit 1). Export what you need from there, or keep it private.',
      from: { path: '^(engine|orders|gateway|persistence|config)/' },
      to: {
        path: PRODUCT,
        pathNot: ['^$1/', '^(engine|orders|gateway|persistence|config)/index[.]ts$'],
      },
    },
    {
      name: 'client-imports-nothing-of-the-server',
      severity: 'error',
      comment:
        'client/ ships to browsers on its own (stockflow/client): it may not import engine/, ' +
        'orders/, gateway/, persistence/, config/, bench/ or test/. Write the wire shapes it ' +
        'needs in client/wire-types.ts.',
      from: { path: '^client/' },
      to: { path: '^(engine|orders|gateway|persistence|config|bench|test)/' },
    },
    {
      name: 'console-imports-only-the-client',
      severity: 'error',
      comment:
        'console/ is a browser page: of this repository it may import only the client, through ' +
        'client/index.ts (stockflow/client), never the server, tools/, bench/ or test/.',
      from: { path: '^console/' },
      to: {
        path: '^(engine|orders|gateway|persistence|config|client|tools|bench|test)/',
        pathNot: '^client/index[.]ts$',
      },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment:
        'This import does not resolve to a file, so the rules above cannot see where it goes.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Count `import type` and type-only re-exports too (they vanish from the emitted JavaScript).
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|coverage)/' },
  },
};
