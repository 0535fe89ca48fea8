import type { HttpRequest, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, Reason, type Engine } from '../engine/index.ts';
import type { OrderApi } from './order-api.ts';
import type { Principal } from './auth.ts';
import type { HttpExchange } from './http-exchange.ts';
import type { RouteKit } from './route-kit.ts';

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Whether `day` is a real calendar day written YYYY-MM-DD (2026-02-30 is not). */
function isDay(day: string): boolean {
  const m = DAY.exec(day);
  if (m === null) return false;
  const at = new Date(`${day}T00:00:00Z`);
  return !Number.isNaN(at.getTime()) && at.toISOString().slice(0, 10) === day;
}

/**
 * The ERP's reads (docs/erp.md): the reconciliation of one UTC day, for admin keys (an ERP
 * connector holds one, as it also pushes master data).
 */
export class ErpRoutes {
  constructor(
    private readonly orders: OrderApi,
    private readonly engine: Engine,
    private readonly kit: RouteKit,
  ) {}

  register(app: TemplatedApp): void {
    app.get('/v1/erp/reconciliation', (res, req) => {
      this.kit.route(res, req, 'erpReconciliation', this.reconciliation);
    });
  }

  private readonly reconciliation = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    if (!p.isAdmin) {
      ex.error(ErrorCode.FORBIDDEN, `key ${p.name} may not read the ERP reconciliation`);
      return;
    }
    const day = req.getQuery('day') ?? '';
    if (!isDay(day)) {
      ex.error(
        ErrorCode.BAD_REQUEST,
        day === ''
          ? 'day is a required query parameter (YYYY-MM-DD, UTC)'
          : `day must be a date written YYYY-MM-DD, got ${day.slice(0, 40)}`,
      );
      return;
    }
    const asked = req.getQuery('location') ?? '';
    const location = asked.length > 0 ? asked : null;
    if (location !== null && this.engine.location(location) === null) {
      ex.error(ErrorCode.NOT_FOUND, `unknown location ${location}`, {
        reason: Reason.UNKNOWN_LOCATION,
      });
      return;
    }
    this.kit.answered(ex, this.orders.reconciliation(day, location), (rows) => {
      ex.json(200, rows);
    });
  };
}
