import type { HttpRequest, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, Reason, type Engine } from '../engine/index.ts';
import type { OrderResult, ReturnView } from '../orders/index.ts';
import type { OrderApi } from './order-api.ts';
import type { Principal } from './auth.ts';
import type { HttpExchange } from './http-exchange.ts';
import { fulfilmentLocation, orderChannel, otherChannel } from './order-access.ts';
import { AccessRefusal } from './reservation-access.ts';
import type { RouteKit } from './route-kit.ts';

/** A call whose synchronous throw becomes a rejection, so one path answers both. */
function attempt<T>(call: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve) => {
    resolve(call());
  });
}

function refuse(ex: HttpExchange, refusal: AccessRefusal): void {
  ex.error(refusal.code, refusal.message, { reason: refusal.reason });
}

type Binding = (principal: Principal) => string | null | AccessRefusal;

/**
 * The HTTP face of returns (docs/returns.md, docs/api.md "Returns"). Storefronts (their channel's
 * orders) request returns and refund them; locations receive returns (any return: a store takes
 * back a web order) and resolve the units they hold apart; admin keys do all. The order service
 * checks, inside the order's turn, that the order is the caller's.
 */
export class ReturnRoutes {
  constructor(
    private readonly orders: OrderApi,
    private readonly engine: Engine,
    private readonly kit: RouteKit,
  ) {}

  register(app: TemplatedApp): void {
    app.post('/v1/orders/:id/returns', (res, req) => {
      this.kit.route(res, req, 'requestReturn', this.request);
    });
    app.get('/v1/returns', (res, req) => {
      this.kit.route(res, req, 'heldReturns', this.held);
    });
    app.get('/v1/returns/:id', (res, req) => {
      this.kit.route(res, req, 'getReturn', this.read);
    });
    app.post('/v1/returns/:id/receipts', (res, req) => {
      this.kit.route(res, req, 'receiveReturn', this.receive);
    });
    app.post('/v1/returns/:id/holds', (res, req) => {
      this.kit.route(res, req, 'resolveReturnHold', this.resolve);
    });
    app.post('/v1/returns/:id/refunds', (res, req) => {
      this.kit.route(res, req, 'refundReturn', this.refund);
    });
  }

  private readonly request = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    this.write(ex, req, p, orderChannel, 'order id', true, (orderId, body, bound) =>
      this.orders.requestReturn(orderId, body, bound),
    );
  };

  private readonly receive = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    this.write(ex, req, p, fulfilmentLocation, 'return id', false, (returnId, body, bound) =>
      this.orders.receiveReturn(returnId, body, bound),
    );
  };

  private readonly resolve = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    this.write(ex, req, p, fulfilmentLocation, 'return id', false, (returnId, body, bound) =>
      this.orders.resolveReturnHold(returnId, body, bound),
    );
  };

  private readonly refund = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    this.write(ex, req, p, orderChannel, 'return id', true, (returnId, body, bound) =>
      this.orders.refundReturn(returnId, body, bound),
    );
  };

  private readonly read = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const returnId = ex.pathParam(req, 'return id');
    if (returnId === null) return;
    if (p.role !== 'location' && !p.isAdmin) {
      const channel = orderChannel(p);
      if (channel instanceof AccessRefusal) {
        refuse(ex, channel);
        return;
      }
    }
    this.kit.answered(ex, this.orders.getReturn(returnId), (found) => {
      if (found === null) {
        ex.error(ErrorCode.NOT_FOUND, `unknown return ${returnId}`, {
          reason: Reason.UNKNOWN_RETURN,
        });
        return;
      }
      // Any location may read a return: it may be the one the parcel is brought to.
      const refusal = p.role === 'location' ? null : otherChannel(p, found.orderId, found.channel);
      if (refusal !== null) {
        refuse(ex, refusal);
        return;
      }
      ex.json(200, { orderId: found.orderId, return: found.return });
    });
  };

  private readonly held = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
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
      ex.error(ErrorCode.FORBIDDEN, `key ${p.name} may not read location ${location}'s returns`, {
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
    this.kit.answered(ex, this.orders.heldAt(location), (held) => {
      ex.json(200, held);
    });
  };

  /**
   * A write: the path id, the caller's binding (channel or location), the JSON body, then the
   * order service; answered with the return as it stands (201 when `creates` made a new return
   * or credit note).
   */
  private write(
    ex: HttpExchange,
    req: HttpRequest,
    p: Principal,
    binding: Binding,
    what: string,
    creates: boolean,
    call: (id: string, body: unknown, bound: string | null) => Promise<OrderResult>,
  ): void {
    const id = ex.pathParam(req, what);
    if (id === null) return;
    const bound = binding(p);
    if (bound instanceof AccessRefusal) {
      refuse(ex, bound);
      return;
    }
    this.kit.readJson(ex, (body) => {
      this.kit.after(
        ex,
        attempt(() => call(id, body, bound)),
        (result) => {
          this.answer(ex, result, what === 'order id' ? returnIdOf(body) : id, body, creates);
        },
      );
    });
  }

  private answer(
    ex: HttpExchange,
    result: OrderResult,
    returnId: string,
    body: unknown,
    creates: boolean,
  ): void {
    if (!result.ok) {
      ex.error(result.code, result.message, {
        reason: result.reason,
        orderId: result.order?.orderId ?? null,
      });
      return;
    }
    const r: ReturnView | undefined = result.order.returns.find((x) => x.returnId === returnId);
    const creditNoteId = creditNoteIdOf(body);
    const creditNote =
      creditNoteId === null
        ? undefined
        : r?.creditNotes.find((c) => c.creditNoteId === creditNoteId);
    ex.json(creates && !result.duplicate ? 201 : 200, {
      orderId: result.order.orderId,
      return: r ?? null,
      ...(creditNote === undefined ? {} : { creditNote }),
      duplicate: result.duplicate,
    });
  }
}

function field(body: unknown, name: string): string | null {
  if (typeof body !== 'object' || body === null) return null;
  const value = (body as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : null;
}

function returnIdOf(body: unknown): string {
  return field(body, 'returnId') ?? '';
}

function creditNoteIdOf(body: unknown): string | null {
  return field(body, 'creditNoteId');
}
