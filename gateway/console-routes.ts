import type { HttpRequest, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode } from '../engine/index.ts';
import type { Principal } from './auth.ts';
import type { GatewayContext } from './context.ts';
import type { HttpExchange } from './http-exchange.ts';
import { consoleTotals } from './console-totals.ts';
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
    const here = consoleTotals(this.ctx.metrics, this.ctx.engine.storage);
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
