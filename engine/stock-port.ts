import type { Clock } from './clock.ts';
import type { Command, CommandResult, ErrorResult } from './commands.ts';
import type { EngineCore } from './engine-core.ts';
import type { Availability } from './engine-views.ts';
import type { JournalLink } from './journal-link.ts';
import type { ExtensionItem, ExtensionJournal, JournalExtension } from './journal.ts';
import type { LocationRanker } from './location-ranker.ts';
import type { LocationInput } from './master-data.ts';
import { BookOfferReader, type OfferReader } from './offer-reader.ts';

/**
 * What the order service (and later returns) may do with the stock engine: commands, the reads
 * sourcing needs, and the two extension points (its records in the engine's journal, its
 * ranking of network reservations). Nothing else of the engine is theirs to call.
 *
 * The reads are valid between actor turns: call them and use what they answer at once. When
 * orders move to worker threads of their own, this is the interface that crosses the thread.
 */
export interface StockPort {
  readonly clock: Clock;
  execute(cmd: Command): Promise<CommandResult>;
  /** Resolves when everything applied (and recorded) so far is durable. */
  durable(): Promise<void>;

  hasChannel(channel: string): boolean;
  hasProduct(sku: string): boolean;
  /** A location's master data, or null. */
  location(id: string): LocationInput | null;
  locationList(): LocationInput[];
  /** Bumped by every change to locations, so readers can cache what they derive from them. */
  readonly locationsVersion: number;
  availability(channel: string, sku: string, location: string | null): Availability | ErrorResult;
  /**
   * Every location where a channel may take a SKU now, with what it may take there (after
   * buffers, exclusions and caps): what sourcing chooses from.
   */
  forEachOffer(
    channel: string,
    sku: string,
    visit: (location: string, available: number) => void,
  ): void;
  /** What a channel may take of several SKUs at one location after another (sourcing). */
  offerReader(channel: string, skus: readonly string[]): OfferReader;
  /** What an order holds allocated, per SKU and location (the engine is the truth of it). */
  orderHoldings(orderId: string, skus: Iterable<string>): Map<string, Map<string, number>>;
  /**
   * Makes the three reads above current for these SKUs before a decision. Null when they are
   * current already: the engine holds every SKU in this thread. With SKUs sharded over worker
   * threads (gateway/shards/sharded-stock-port.ts), it fetches from their owners what `channel`
   * may take of them, what `orderId` holds of them and, with `pickupAt`, their availability
   * there. Call it after the decision's last await: the reads then answer what the owners held
   * when asked, and an allocation made from them may still be refused (sourcing plans again).
   */
  refresh(
    channel: string,
    skus: Iterable<string>,
    orderId: string | null,
    pickupAt: string | null,
  ): Promise<void> | null;

  /** Joins the engine's journal and snapshots (register before recovery). */
  extend<R, S extends ExtensionItem>(extension: JournalExtension<R, S>): ExtensionJournal<R>;
  /** Chooses the locations of network reservations from now on; null: most available first. */
  rankNetworkReservations(ranker: LocationRanker | null): void;
}

/** The commands and availability reads the port forwards to the engine's public face. */
export interface PortHost {
  execute(cmd: Command): Promise<CommandResult>;
  durable(): Promise<void>;
  availability(channel: string, sku: string, location: string | null): Availability | ErrorResult;
}

export class EngineStockPort implements StockPort {
  constructor(
    private readonly core: EngineCore,
    private readonly link: JournalLink,
    private readonly host: PortHost,
  ) {}

  get clock(): Clock {
    return this.core.clock;
  }

  execute(cmd: Command): Promise<CommandResult> {
    return this.host.execute(cmd);
  }

  durable(): Promise<void> {
    return this.host.durable();
  }

  hasChannel(channel: string): boolean {
    return this.core.rules.channel(channel) !== undefined;
  }

  hasProduct(sku: string): boolean {
    return this.core.books.has(sku);
  }

  location(id: string): LocationInput | null {
    return this.core.locations.get(id)?.toInput() ?? null;
  }

  locationList(): LocationInput[] {
    return this.core.locationList();
  }

  get locationsVersion(): number {
    return this.core.locationsVersion;
  }

  availability(channel: string, sku: string, location: string | null): Availability | ErrorResult {
    return this.host.availability(channel, sku, location);
  }

  forEachOffer(
    channel: string,
    sku: string,
    visit: (location: string, available: number) => void,
  ): void {
    const core = this.core;
    const book = core.books.get(sku);
    const ch = core.rules.channel(channel);
    if (book === undefined || ch === undefined) return;
    book.forEachOffer(ch, core.rules, visit);
  }

  offerReader(channel: string, skus: readonly string[]): OfferReader {
    const core = this.core;
    return new BookOfferReader(
      skus.map((sku) => core.books.get(sku) ?? null),
      core.rules.channel(channel) ?? null,
      core.rules,
    );
  }

  orderHoldings(orderId: string, skus: Iterable<string>): Map<string, Map<string, number>> {
    const out = new Map<string, Map<string, number>>();
    for (const sku of new Set(skus)) {
      const book = this.core.books.get(sku);
      if (book === undefined) continue;
      for (const p of book.positions) {
        const qty = p.orderQty(orderId);
        if (qty === 0) continue;
        let at = out.get(sku);
        if (at === undefined) {
          at = new Map<string, number>();
          out.set(sku, at);
        }
        at.set(p.location.id, qty);
      }
    }
    return out;
  }

  refresh(): null {
    return null;
  }

  extend<R, S extends ExtensionItem>(extension: JournalExtension<R, S>): ExtensionJournal<R> {
    return this.link.extend(extension);
  }

  rankNetworkReservations(ranker: LocationRanker | null): void {
    this.core.ranker = ranker;
  }
}
