import type {
  Availability,
  Clock,
  Command,
  CommandResult,
  ErrorResult,
  ExtensionItem,
  ExtensionJournal,
  JournalExtension,
  LocationInput,
  LocationRanker,
  OfferReader,
  StockPort,
} from '../../engine/index.ts';
import type { ShardRouter } from './shard-router.ts';

/**
 * The stock port of the order service on the orders' home worker when SKUs are sharded over
 * worker threads (issue #12, docs/scaling.md "Orders on workers"). Commands go through the
 * router to the shard that owns their SKU (or holds their reservation). Master data, rules and
 * the journal are this worker's own: every shard holds the master data, and the order service's
 * records go into the home shard's journal. The stock reads sourcing makes (offers, what an
 * order holds, pickup availability) answer from this shard's books for its own SKUs and, for
 * SKUs of other shards, from what `refresh` fetched from their owners just before the decision.
 */

/** What the home asks an owner before a decision. */
interface OffersArgs {
  readonly channel: string;
  readonly skus: readonly string[];
  readonly orderId: string | null;
  readonly pickupAt: string | null;
}

/** The owner's answer, one entry per SKU asked: offers and holdings as [location, units, ...]. */
interface OffersAnswer {
  readonly offers: (string | number)[][];
  readonly held: (string | number)[][] | null;
  readonly pickup: (Availability | ErrorResult)[] | null;
}

const OFFERS_REQUEST = 'stock.offers';

/** An owner's side: what its own books say of the SKUs asked (see OffersAnswer). */
function readOffers(port: StockPort, payload: unknown): OffersAnswer {
  const a = payload as OffersArgs;
  const offers = a.skus.map((sku) => {
    const flat: (string | number)[] = [];
    port.forEachOffer(a.channel, sku, (location, available) => {
      flat.push(location, available);
    });
    return flat;
  });
  let held: (string | number)[][] | null = null;
  if (a.orderId !== null) {
    const holdings = port.orderHoldings(a.orderId, a.skus);
    held = a.skus.map((sku) => {
      const flat: (string | number)[] = [];
      for (const [location, qty] of holdings.get(sku) ?? []) flat.push(location, qty);
      return flat;
    });
  }
  const pickupAt = a.pickupAt;
  const pickup =
    pickupAt === null ? null : a.skus.map((sku) => port.availability(a.channel, sku, pickupAt));
  return { offers, held, pickup };
}

/** Every worker: answers the orders' home what its books say of its SKUs. */
export function serveOffers(router: ShardRouter, port: StockPort): void {
  router.handle(OFFERS_REQUEST, (_peer, payload, reply) => {
    reply?.(readOffers(port, payload));
  });
}

/** Offers of other shards' SKUs as last fetched, read like a book's. */
class FetchedOfferReader implements OfferReader {
  constructor(
    private readonly local: OfferReader,
    /** Per SKU index: its fetched offers by location, or null for a SKU of this shard. */
    private readonly fetched: readonly (ReadonlyMap<string, number> | null)[],
  ) {}

  at(location: string, out: number[]): boolean {
    let any = this.local.at(location, out);
    for (let i = 0; i < this.fetched.length; i++) {
      const offers = this.fetched[i];
      if (offers === null || offers === undefined) continue;
      const units = offers.get(location) ?? 0;
      out[i] = units;
      if (units > 0) any = true;
    }
    return any;
  }
}

function key(channel: string, sku: string): string {
  return `${channel}\u0000${sku}`;
}

function pairs(flat: readonly (string | number)[]): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i < flat.length; i += 2) out.set(flat[i] as string, flat[i + 1] as number);
  return out;
}

const NO_OFFERS: ReadonlyMap<string, number> = new Map();

/** How long what was fetched for a decision is kept: a decision reads it within milliseconds. */
const KEEP_MS = 30_000;

/**
 * What was fetched for decisions, by key, oldest first. A decision reads its entries right after
 * fetching them; a later fetch of the same key replaces them; every fetch drops the entries older
 * than `keepMs`. So memory follows the SKUs ordered in the last `keepMs`, not every SKU ever
 * ordered (a catalogue of a million SKUs at 200 locations each would otherwise stay on the heap).
 */
class Fetched<V> {
  private readonly items = new Map<string, { readonly at: number; readonly value: V }>();

  constructor(
    private readonly keepMs: number,
    private readonly now: () => number,
  ) {}

  get(key: string): V | undefined {
    return this.items.get(key)?.value;
  }

  /** Reads and drops an entry (what an order holds: read once per decision). */
  take(key: string): V | undefined {
    const entry = this.items.get(key);
    this.items.delete(key);
    return entry?.value;
  }

  set(key: string, value: V): void {
    this.items.delete(key);
    this.items.set(key, { at: this.now(), value });
  }

  /** Drops the entries fetched more than `keepMs` ago (they are the oldest, so first). */
  sweep(): void {
    const cutoff = this.now() - this.keepMs;
    for (const [key, entry] of this.items) {
      if (entry.at >= cutoff) return;
      this.items.delete(key);
    }
  }
}

export class ShardedStockPort implements StockPort {
  /** Offers of other shards' SKUs by channel and SKU, as last fetched (kept KEEP_MS). */
  private readonly offers: Fetched<ReadonlyMap<string, number>>;
  /** Pickup availability of other shards' SKUs by channel, SKU and location, as last fetched. */
  private readonly pickup: Fetched<Availability | ErrorResult>;
  /** What an order holds of other shards' SKUs, fetched for its next `orderHoldings` (taken). */
  private readonly held: Fetched<Map<string, Map<string, number>>>;
  /** Fetches made (for the metrics). */
  fetches = 0;
  private linked: ShardRouter | null = null;

  /**
   * The order service is built before recovery; the router, after: `connect` it then. `now`
   * (monotonic ms) ages what was fetched.
   */
  constructor(
    private readonly local: StockPort,
    now: () => number = () => performance.now(),
  ) {
    this.offers = new Fetched(KEEP_MS, now);
    this.pickup = new Fetched(KEEP_MS, now);
    this.held = new Fetched(KEEP_MS, now);
  }

  connect(router: ShardRouter): void {
    this.linked = router;
  }

  private get router(): ShardRouter {
    if (this.linked === null) throw new Error('the sharded stock port is not connected yet');
    return this.linked;
  }

  get clock(): Clock {
    return this.local.clock;
  }

  /**
   * A command that binds stock to an order on another shard goes out only once this shard's
   * journal holds everything recorded so far, the order's own events with it. With one journal,
   * a crash keeps a prefix of it: no allocation without the order that made it. With two, an
   * allocation durable on its shard for an order whose placement this shard lost would hold the
   * stock for an order nobody knows; the barrier keeps that prefix across shards.
   */
  execute(cmd: Command): Promise<CommandResult> {
    if (this.bindsElsewhere(cmd)) {
      return this.local.durable().then(() => this.router.execute(cmd));
    }
    return this.router.execute(cmd);
  }

  private bindsElsewhere(cmd: Command): boolean {
    if (cmd.op === 'allocate') return !this.mine(cmd.sku);
    // A held reservation becomes the order's: it may be on any shard.
    return cmd.op === 'confirm';
  }

  /** The order service's records are in this shard's journal; forwarded commands answer durable. */
  durable(): Promise<void> {
    return this.local.durable();
  }

  hasChannel(channel: string): boolean {
    return this.local.hasChannel(channel);
  }

  hasProduct(sku: string): boolean {
    return this.local.hasProduct(sku);
  }

  location(id: string): LocationInput | null {
    return this.local.location(id);
  }

  locationList(): LocationInput[] {
    return this.local.locationList();
  }

  get locationsVersion(): number {
    return this.local.locationsVersion;
  }

  availability(channel: string, sku: string, location: string | null): Availability | ErrorResult {
    if (this.mine(sku) || location === null) return this.local.availability(channel, sku, location);
    return (
      this.pickup.get(`${key(channel, sku)}\u0000${location}`) ??
      this.local.availability(channel, sku, location)
    );
  }

  forEachOffer(
    channel: string,
    sku: string,
    visit: (location: string, available: number) => void,
  ): void {
    if (this.mine(sku)) {
      this.local.forEachOffer(channel, sku, visit);
      return;
    }
    for (const [location, units] of this.offers.get(key(channel, sku)) ?? NO_OFFERS) {
      visit(location, units);
    }
  }

  offerReader(channel: string, skus: readonly string[]): OfferReader {
    const fetched = skus.map((sku) =>
      this.mine(sku) ? null : (this.offers.get(key(channel, sku)) ?? NO_OFFERS),
    );
    return new FetchedOfferReader(this.local.offerReader(channel, skus), fetched);
  }

  orderHoldings(orderId: string, skus: Iterable<string>): Map<string, Map<string, number>> {
    const list = [...new Set(skus)];
    const out = this.local.orderHoldings(
      orderId,
      list.filter((sku) => this.mine(sku)),
    );
    const fetched = this.held.take(orderId);
    if (fetched === undefined) return out;
    for (const sku of list) {
      const at = fetched.get(sku);
      if (at !== undefined && at.size > 0) out.set(sku, at);
    }
    return out;
  }

  refresh(
    channel: string,
    skus: Iterable<string>,
    orderId: string | null,
    pickupAt: string | null,
  ): Promise<void> | null {
    const byOwner = new Map<number, string[]>();
    for (const sku of new Set(skus)) {
      const owner = this.router.ownerOf(sku);
      if (owner === this.router.shard) continue;
      let list = byOwner.get(owner);
      if (list === undefined) byOwner.set(owner, (list = []));
      list.push(sku);
    }
    if (byOwner.size === 0) return null;
    this.offers.sweep();
    this.pickup.sweep();
    this.held.sweep();
    if (orderId !== null) this.held.set(orderId, new Map());
    const asks: Promise<void>[] = [];
    for (const [owner, list] of byOwner) {
      this.fetches++;
      const args: OffersArgs = { channel, skus: list, orderId, pickupAt };
      asks.push(
        this.router.ask<OffersAnswer | ErrorResult>(owner, OFFERS_REQUEST, args).then((a) => {
          if ('ok' in a) throw new Error(`shard ${owner}: ${a.message}`);
          this.learn(args, a);
        }),
      );
    }
    return Promise.all(asks).then(() => undefined);
  }

  extend<R, S extends ExtensionItem>(extension: JournalExtension<R, S>): ExtensionJournal<R> {
    return this.local.extend(extension);
  }

  /** The home shard's engine ranks its network reservations; other shards rank by stock. */
  rankNetworkReservations(ranker: LocationRanker | null): void {
    this.local.rankNetworkReservations(ranker);
  }

  private mine(sku: string): boolean {
    return this.router.ownerOf(sku) === this.router.shard;
  }

  private learn(args: OffersArgs, a: OffersAnswer): void {
    args.skus.forEach((sku, i) => {
      const k = key(args.channel, sku);
      this.offers.set(k, pairs(a.offers[i] ?? []));
      const p = a.pickup?.[i];
      if (p !== undefined && args.pickupAt !== null)
        this.pickup.set(`${k}\u0000${args.pickupAt}`, p);
      const h = a.held?.[i];
      if (h !== undefined && args.orderId !== null) {
        this.held.get(args.orderId)?.set(sku, pairs(h));
      }
    });
  }
}
