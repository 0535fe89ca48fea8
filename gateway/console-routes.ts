import type { HttpRequest, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode } from '../engine/index.ts';
import type { Principal } from './auth.ts';
import type { GatewayContext } from './context.ts';
import type { HttpExchange } from './http-exchange.ts';
import type { RouteKit } from './route-kit.ts';

/**
 * The two reads the operators' console (console/, docs/console.md) needs beyond the API it
 * shares with everyone: who the key is and what it may look at (`session`), and a small admin
 * stats feed of running totals the page polls once a second and turns into rates (`stats`), so
 * the browser never scrapes /metrics.
 */
export class ConsoleRoutes {
  constructor(
    private readonly ctx: GatewayContext,
    private readonly kit: RouteKit,
  ) {}

  register(app: TemplatedApp): void {
    app.get('/v1/console/session', (res, req) => {
      this.kit.route(res, req, 'console', this.session);
    });
    app.get('/v1/console/stats', (res, req) => {
      this.kit.route(res, req, 'console', this.stats);
    });
  }

  /**
   * The key's name and role, and what its console shows: the channels whose availability it may
   * read, the locations it may look at per SKU or per feed, the SKUs of the grid, and whether
   * the order service runs.
   */
  private readonly session = (ex: HttpExchange, _req: HttpRequest, p: Principal): void => {
    const engine = this.ctx.engine;
    const allChannels = engine.rules().rules.channels.map((c) => c.id);
    const locations = engine
      .locationList()
      .filter((l) => p.role !== 'location' || l.id === p.location)
      .map((l) => ({ id: l.id, type: l.type }));
    const channels = allChannels.filter((c) => p.mayUseChannel(c));
    ex.json(200, {
      name: p.name,
      role: p.role,
      channel: p.channel,
      location: p.location,
      channels,
      locations,
      skus: channels.length === 0 ? [] : engine.productList().map((s) => s.sku),
      orders: this.ctx.orders !== null,
    });
  };

  /** Running totals since the process started; rates are differences between two reads. */
  private readonly stats = (ex: HttpExchange, _req: HttpRequest, p: Principal): void => {
    if (!p.isAdmin) {
      ex.error(ErrorCode.FORBIDDEN, `key ${p.name} may not read the console stats`);
      return;
    }
    const at = this.ctx.engine.clock.now();
    const here = consoleTotals(this.ctx);
    const totals = this.ctx.totalsElsewhere === null ? here : this.ctx.totalsElsewhere(here);
    this.kit.answered(ex, totals, (t) => {
      this.kit.answered(ex, this.ctx.orders?.stats() ?? null, (orders) => {
        ex.json(200, {
          at,
          reserves: t.reserves,
          orders: {
            placed: orders?.placed ?? 0,
            failed: orders?.placementsFailed ?? 0,
          },
          journal: t.journal,
        });
      });
    });
  };
}

/** What the console's rates count, in one gateway and its engine (one worker's share). */
export interface ConsoleTotals {
  readonly reserves: Record<string, number>;
  readonly journal: { readonly commits: number; readonly records: number };
}

export function consoleTotals(ctx: GatewayContext): ConsoleTotals {
  const journal = ctx.engine.storage.journalStats;
  return {
    reserves: ctx.metrics.resultsOf('reserve'),
    journal: { commits: journal.commits, records: journal.records },
  };
}

/** Adds other workers' totals to this one's (worker threads: the console sees the process). */
export function addTotals(here: ConsoleTotals, others: readonly ConsoleTotals[]): ConsoleTotals {
  const reserves: Record<string, number> = { ...here.reserves };
  let { commits, records } = here.journal;
  for (const t of others) {
    for (const [result, n] of Object.entries(t.reserves))
      reserves[result] = (reserves[result] ?? 0) + n;
    commits += t.journal.commits;
    records += t.journal.records;
  }
  return { reserves, journal: { commits, records } };
}
