/**
 * The demo retailer: a dozen stores with coordinates, two distribution centres, a dropship
 * partner, a catalog of a few thousand SKUs, four channels with buffers, a marketplace cap and a
 * pickup buffer, and an API key for every storefront, location and the operator.
 */

export interface DemoLocation {
  readonly id: string;
  readonly type: 'store' | 'dc' | 'dropship';
  readonly name: string;
  readonly lat: number;
  readonly lon: number;
}

export const LOCATIONS: readonly DemoLocation[] = [
  { id: 'dc-doncaster', type: 'dc', name: 'Doncaster DC', lat: 53.52, lon: -1.13 },
  { id: 'dc-bristol', type: 'dc', name: 'Bristol DC', lat: 51.45, lon: -2.59 },
  {
    id: 'dropship-acme',
    type: 'dropship',
    name: 'Acme Outdoor (dropship)',
    lat: 52.41,
    lon: -1.51,
  },
  { id: 'store-london', type: 'store', name: 'London Oxford St', lat: 51.515, lon: -0.142 },
  { id: 'store-manchester', type: 'store', name: 'Manchester', lat: 53.48, lon: -2.24 },
  { id: 'store-birmingham', type: 'store', name: 'Birmingham', lat: 52.48, lon: -1.9 },
  { id: 'store-leeds', type: 'store', name: 'Leeds', lat: 53.8, lon: -1.55 },
  { id: 'store-glasgow', type: 'store', name: 'Glasgow', lat: 55.86, lon: -4.25 },
  { id: 'store-edinburgh', type: 'store', name: 'Edinburgh', lat: 55.95, lon: -3.19 },
  { id: 'store-liverpool', type: 'store', name: 'Liverpool', lat: 53.41, lon: -2.98 },
  { id: 'store-newcastle', type: 'store', name: 'Newcastle', lat: 54.97, lon: -1.61 },
  { id: 'store-york', type: 'store', name: 'York', lat: 53.96, lon: -1.08 },
  { id: 'store-cardiff', type: 'store', name: 'Cardiff', lat: 51.48, lon: -3.18 },
  { id: 'store-nottingham', type: 'store', name: 'Nottingham', lat: 52.95, lon: -1.15 },
  { id: 'store-brighton', type: 'store', name: 'Brighton', lat: 50.82, lon: -0.14 },
];

const GROUPS = ['footwear', 'outerwear', 'camping', 'climbing', 'cycling', 'running'] as const;

/** `DEMO-00001` ... in six product groups. */
export function catalog(size: number): { sku: string; group: string }[] {
  return Array.from({ length: size }, (_, i) => ({
    sku: `DEMO-${String(i + 1).padStart(5, '0')}`,
    group: GROUPS[i % GROUPS.length] ?? 'other',
  }));
}

export const RULES = {
  channels: [
    { id: 'web', priority: 1 },
    { id: 'app', priority: 2 },
    { id: 'kiosk', priority: 3 },
    { id: 'marketplace', priority: 4 },
  ],
  buffers: [
    // Stores keep two units back from every channel (display stock, miscounts).
    { locationType: 'store', units: 2 },
    // The marketplace sees 10% less, so the own website sells the last units.
    { channel: 'marketplace', percent: 10 },
  ],
  caps: [{ channel: 'marketplace', percent: 30, units: 50 }],
  exclusions: [{ channel: 'kiosk', locationType: 'dropship' }],
  pickupBuffers: [{ locationType: 'store', units: 1 }],
};

/** The demo's keys: known, printed, and meant for a laptop only. */
export const KEYS = {
  admin: 'demo-admin-key-change-me-0001',
  web: 'demo-web-key-change-me-00001',
  app: 'demo-app-key-change-me-00001',
  marketplace: 'demo-marketplace-key-0000001',
} as const;

export function locationKey(location: string): string {
  return `demo-location-key-${location}`;
}

/** A whole server configuration for the demo (see docs/configuration.md). */
export function demoConfig(options: {
  port: number;
  dataDir: string;
  skus: number;
}): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: options.port },
    auth: {
      apiKeys: [
        { key: KEYS.admin, name: 'demo operator', role: 'admin' },
        { key: KEYS.web, name: 'demo web shop', role: 'storefront', channel: 'web' },
        { key: KEYS.app, name: 'demo app', role: 'storefront', channel: 'app' },
        {
          key: KEYS.marketplace,
          name: 'demo marketplace',
          role: 'storefront',
          channel: 'marketplace',
        },
        ...LOCATIONS.map((l) => ({
          key: locationKey(l.id),
          name: `${l.name} system`,
          role: 'location',
          location: l.id,
        })),
      ],
    },
    rules: RULES,
    locations: LOCATIONS.map((l) => ({
      id: l.id,
      type: l.type,
      name: l.name,
      lat: l.lat,
      lon: l.lon,
    })),
    products: catalog(options.skus),
    orders: {
      locations: LOCATIONS.map((l) => ({
        id: l.id,
        priority: l.type === 'dc' ? 2 : l.type === 'store' ? 1 : 0,
        shippingCost: l.type === 'dropship' ? 900 : 450,
      })),
    },
    persistence: { store: 'file', dir: options.dataDir, snapshotEverySeconds: 60 },
    log: { level: 'info' },
  };
}
