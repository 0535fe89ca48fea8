import type { TemplatedApp } from 'uWebSockets.js';
import { ErrorCode } from '../engine/index.ts';
import type { Principal } from './auth.ts';
import type { GatewayContext } from './context.ts';
import type { HttpExchange } from './http-exchange.ts';
import { describeIssue, locationsBody, productsBody, rulesBody } from './message-schemas.ts';
import type { RouteKit } from './route-kit.ts';

type ConfigPart = 'rules' | 'locations' | 'products';

/**
 * Configuration at run time, for admin keys: the channel rules (read, and replaced whole) and the
 * master data (read, and upserted). A change is answered once the engine's journal holds it.
 */
export class ConfigRoutes {
  constructor(
    private readonly ctx: GatewayContext,
    private readonly kit: RouteKit,
  ) {}

  register(app: TemplatedApp): void {
    for (const what of ['rules', 'locations', 'products'] as const) {
      app.get(`/v1/config/${what}`, (res, req) => {
        this.kit.route(res, req, 'config', (ex, _req, p) => {
          this.read(ex, p, what);
        });
      });
      app.put(`/v1/config/${what}`, (res, req) => {
        this.kit.route(res, req, 'config', (ex, _req, p) => {
          this.write(ex, p, what);
        });
      });
    }
  }

  private read(ex: HttpExchange, p: Principal, what: ConfigPart): void {
    if (!p.isAdmin) {
      ex.error(ErrorCode.FORBIDDEN, `key ${p.name} may not read configuration`);
      return;
    }
    const engine = this.ctx.engine;
    switch (what) {
      case 'rules':
        // The document as PUT takes it, so it can be read, edited and written back.
        ex.json(200, engine.rules().rules, 'ok', {
          'x-stockflow-rules-version': String(engine.rules().version),
        });
        return;
      case 'locations':
        ex.json(200, engine.locationList());
        return;
      case 'products':
        ex.json(200, engine.productList());
        return;
    }
  }

  private write(ex: HttpExchange, p: Principal, what: ConfigPart): void {
    if (!p.isAdmin) {
      ex.error(ErrorCode.FORBIDDEN, `key ${p.name} may not change configuration`);
      return;
    }
    this.kit.readJson(ex, (value) => {
      try {
        this.apply(ex, p, what, value);
      } catch (error) {
        this.kit.answerThrown(ex, error);
      }
    });
  }

  private apply(ex: HttpExchange, p: Principal, what: ConfigPart, value: unknown): void {
    const { engine, log } = this.ctx;
    switch (what) {
      case 'rules': {
        const parsed = rulesBody.safeParse(value);
        if (!parsed.success) {
          ex.error(ErrorCode.BAD_REQUEST, `rules: ${describeIssue(parsed.error)}`);
          return;
        }
        engine.setRules(parsed.data);
        const version = engine.rules().version;
        log.info({ key: p.name, version }, 'rules replaced');
        this.afterDurable(ex, { version });
        return;
      }
      case 'locations': {
        const parsed = locationsBody.safeParse(value);
        if (!parsed.success) {
          ex.error(ErrorCode.BAD_REQUEST, `locations: ${describeIssue(parsed.error)}`);
          return;
        }
        engine.upsertLocations(parsed.data);
        log.info({ key: p.name, count: parsed.data.length }, 'locations upserted');
        this.afterDurable(ex, { upserted: parsed.data.length });
        return;
      }
      case 'products': {
        const parsed = productsBody.safeParse(value);
        if (!parsed.success) {
          ex.error(ErrorCode.BAD_REQUEST, `products: ${describeIssue(parsed.error)}`);
          return;
        }
        engine.upsertProducts(parsed.data);
        log.info({ key: p.name, count: parsed.data.length }, 'products upserted');
        this.afterDurable(ex, { upserted: parsed.data.length });
        return;
      }
    }
  }

  /** Configuration changes are acknowledged once the engine's journal holds them. */
  private afterDurable(ex: HttpExchange, body: unknown): void {
    this.kit.after(ex, this.ctx.engine.durable(), () => {
      ex.json(200, body);
    });
  }
}
