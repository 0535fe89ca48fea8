import type { HttpRequest, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, Reason, type Engine } from '../engine/index.ts';
import type { OrderResult } from '../orders/index.ts';
import type { Principal } from './auth.ts';
import type { HttpExchange } from './http-exchange.ts';
import { locationStream } from './location-push.ts';
import {
  cancelBody,
  describeIssue,
  fulfilmentAnswerBody,
  IDEMPOTENCY_KEY,
} from './message-schemas.ts';
import type { OrderApi } from './order-api.ts';
import { fulfilmentLocation, orderChannel, otherChannel, otherLocation } from './order-access.ts';
import { AccessRefusal } from './reservation-access.ts';
import type { RouteKit } from './route-kit.ts';
import { FulfilmentPush } from './ws-protocol.ts';

/** GET /v1/orders: how many orders by default, and at most (the order index keeps 200). */
const DEFAULT_LIST = 50;
const MAX_LIST = 200;

/** A call whose synchronous throw becomes a rejection, so one path answers both. */
function attempt<T>(call: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve) => {
    resolve(call());
  });
}

function refuse(ex: HttpExchange, refusal: AccessRefusal): void {
  ex.error(refusal.code, refusal.message, { reason: refusal.reason });
}

/**
 * The HTTP face of the order service (docs/api.md, "Orders" and "Fulfilments"): place, read and
 * cancel orders (storefronts and admin), read and answer fulfilments and list what still waits
 * for a location (location keys and admin). Registered by HttpRouter, before its catch-all.
 */
export class OrderRoutes {
  constructor(
    private readonly orders: OrderApi,
    private readonly engine: Engine,
    private readonly kit: RouteKit,
  ) {}

  register(app: TemplatedApp): void {
    app.post('/v1/orders', (res, req) => {
      this.kit.route(res, req, 'placeOrder', this.place);
    });
    app.get('/v1/orders', (res, req) => {
      this.kit.route(res, req, 'listOrders', this.list);
    });
    app.get('/v1/orders/:id', (res, req) => {
      this.kit.route(res, req, 'getOrder', this.read);
    });
    app.post('/v1/orders/:id/cancel', (res, req) => {
      this.kit.route(res, req, 'cancelOrder', this.cancel);
    });
    app.get('/v1/fulfilments', (res, req) => {
      this.kit.route(res, req, 'pendingFulfilments', this.pending);
    });
    app.get('/v1/fulfilments/:id', (res, req) => {
      this.kit.route(res, req, 'getFulfilment', this.fulfilment);
    });
    app.post('/v1/fulfilments/:id/answers', (res, req) => {
      this.kit.route(res, req, 'fulfilmentAnswer', this.answer);
    });
  }

  // ---- orders ---------------------------------------------------------------------------------

  private readonly place = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const channel = orderChannel(p);
    if (channel instanceof AccessRefusal) {
      refuse(ex, channel);
      return;
    }
    const header = req.getHeader('idempotency-key');
    if (header.length > 0 && !IDEMPOTENCY_KEY.test(header)) {
      ex.error(ErrorCode.BAD_REQUEST, 'Idempotency-Key must be 1-255 printable ASCII characters');
      return;
    }
    const key = header.length > 0 ? header : null;
    this.kit.readJson(ex, (body) => {
      this.kit.after(
        ex,
        attempt(() => this.orders.place(body, key, channel)),
        (result) => {
          this.answerOrder(ex, result, true);
        },
      );
    });
  };

  /** The newest orders, newest first: all for admin keys, a storefront's own channel's. */
  private readonly list = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const channel = orderChannel(p);
    if (channel instanceof AccessRefusal) {
      refuse(ex, channel);
      return;
    }
    const text = req.getQuery('limit') ?? '';
    const limit = text.length === 0 ? DEFAULT_LIST : Number(text);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST) {
      ex.error(ErrorCode.BAD_REQUEST, `limit must be a whole number within 1..${MAX_LIST}`);
      return;
    }
    this.kit.answered(ex, this.orders.recent(MAX_LIST), (recent) => {
      const orders = (
        channel === null ? recent : recent.filter((o) => o.channel === channel)
      ).slice(0, limit);
      ex.json(200, { orders });
    });
  };

  private readonly read = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const orderId = ex.pathParam(req, 'order id');
    if (orderId === null) return;
    const channel = orderChannel(p);
    if (channel instanceof AccessRefusal) {
      refuse(ex, channel);
      return;
    }
    this.kit.answered(ex, this.orders.get(orderId), (order) => {
      if (order === null) {
        ex.error(ErrorCode.NOT_FOUND, `unknown order ${orderId}`, {
          reason: Reason.UNKNOWN_ORDER,
        });
        return;
      }
      const refusal = otherChannel(p, orderId, order.channel);
      if (refusal !== null) {
        refuse(ex, refusal);
        return;
      }
      ex.json(200, order);
    });
  };

  private readonly cancel = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const orderId = ex.pathParam(req, 'order id');
    if (orderId === null) return;
    const channel = orderChannel(p);
    if (channel instanceof AccessRefusal) {
      refuse(ex, channel);
      return;
    }
    this.kit.readJson(
      ex,
      (value) => {
        const parsed = cancelBody.safeParse(value);
        if (!parsed.success) {
          ex.error(ErrorCode.BAD_REQUEST, describeIssue(parsed.error));
          return;
        }
        this.kit.after(
          ex,
          attempt(() => this.orders.cancel(orderId, parsed.data, channel)),
          (result) => {
            this.answerOrder(ex, result, false);
          },
        );
      },
      {},
    );
  };

  /** An order result: the order (201 when this request created it), or the error with it. */
  private answerOrder(ex: HttpExchange, result: OrderResult, placing: boolean): void {
    if (!result.ok) {
      ex.error(result.code, result.message, {
        reason: result.reason,
        available: result.available,
        order: result.order,
      });
      return;
    }
    ex.json(placing && result.created ? 201 : 200, {
      ...result.order,
      duplicate: result.duplicate,
    });
  }

  // ---- fulfilments ----------------------------------------------------------------------------

  private readonly pending = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const bound = fulfilmentLocation(p);
    if (bound instanceof AccessRefusal) {
      refuse(ex, bound);
      return;
    }
    const asked = req.getQuery('location') ?? '';
    const location = asked.length > 0 ? asked : bound;
    if (location === null) {
      ex.error(ErrorCode.BAD_REQUEST, 'location is a required query parameter');
      return;
    }
    if (bound !== null && location !== bound) {
      ex.error(ErrorCode.FORBIDDEN, `key ${p.name} may not read location ${location}'s messages`, {
        reason: Reason.OTHER_LOCATION,
      });
      return;
    }
    if (this.engine.location(location) === null) {
      ex.error(ErrorCode.NOT_FOUND, `unknown location ${location}`, {
        reason: Reason.UNKNOWN_LOCATION,
      });
      return;
    }
    this.kit.answered(ex, this.orders.pendingFor(locationStream(location)), (pending) => {
      ex.json(200, { location, messages: pending.map((m) => new FulfilmentPush(m)) });
    });
  };

  private readonly fulfilment = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const fulfilmentId = ex.pathParam(req, 'fulfilment id');
    if (fulfilmentId === null) return;
    const bound = fulfilmentLocation(p);
    if (bound instanceof AccessRefusal) {
      refuse(ex, bound);
      return;
    }
    this.kit.answered(ex, this.orders.orderOfFulfilment(fulfilmentId), (orderId) => {
      this.kit.answered(ex, orderId === null ? null : this.orders.get(orderId), (order) => {
        const x = order?.fulfilments.find((f) => f.fulfilmentId === fulfilmentId);
        if (order == null || x === undefined) {
          ex.error(ErrorCode.NOT_FOUND, `unknown fulfilment ${fulfilmentId}`, {
            reason: Reason.UNKNOWN_FULFILMENT,
          });
          return;
        }
        const refusal = otherLocation(p, fulfilmentId, x.location);
        if (refusal !== null) {
          refuse(ex, refusal);
          return;
        }
        ex.json(200, {
          orderId: order.orderId,
          fulfilment: x,
          delivery: order.delivery,
          customer: { id: order.customer.id, name: order.customer.name ?? null },
        });
      });
    });
  };

  private readonly answer = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const fulfilmentId = ex.pathParam(req, 'fulfilment id');
    if (fulfilmentId === null) return;
    const location = fulfilmentLocation(p);
    if (location instanceof AccessRefusal) {
      refuse(ex, location);
      return;
    }
    this.kit.readJson(ex, (value) => {
      const parsed = fulfilmentAnswerBody.safeParse(value);
      if (!parsed.success) {
        ex.error(ErrorCode.BAD_REQUEST, describeIssue(parsed.error));
        return;
      }
      this.kit.after(
        ex,
        attempt(() => this.orders.fulfilmentAnswer(fulfilmentId, parsed.data, location)),
        (result) => {
          const x = result.order?.fulfilments.find((f) => f.fulfilmentId === fulfilmentId) ?? null;
          if (!result.ok) {
            ex.error(result.code, result.message, {
              reason: result.reason,
              available: result.available,
              orderId: result.order?.orderId ?? null,
              fulfilment: x,
            });
            return;
          }
          ex.json(200, {
            orderId: result.order.orderId,
            fulfilment: x,
            duplicate: result.duplicate,
          });
        },
      );
    });
  };
}
