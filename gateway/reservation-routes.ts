import type { HttpRequest, TemplatedApp } from 'uWebSockets.js';
import {
  ErrorCode,
  type Availability,
  type CommandResult,
  type ErrorResult,
} from '../engine/index.ts';
import type { Principal } from './auth.ts';
import type { GatewayContext } from './context.ts';
import { decodeParam, type HttpExchange } from './http-exchange.ts';
import { confirmBody, describeIssue, reservationBody } from './message-schemas.ts';
import {
  channelRefusal,
  checkIdFields,
  CONFIRM,
  OpRefusal,
  RELEASE,
  RESERVE,
  type CommandOp,
} from './op-table.ts';
import type { RouteKit } from './route-kit.ts';

function refuse(ex: HttpExchange, refusal: OpRefusal): void {
  ex.error(refusal.code, refusal.message, { reason: refusal.reason });
}

/**
 * Availability reads and the reservation ops over HTTP. The ops are the op table's records
 * (op-table.ts), the same checks and commands as on the WebSocket; only where the input comes
 * from (a body, a path parameter) and how the answer goes back differ.
 */
export class ReservationRoutes {
  constructor(
    private readonly ctx: GatewayContext,
    private readonly kit: RouteKit,
  ) {}

  register(app: TemplatedApp): void {
    app.get('/v1/availability', (res, req) => {
      this.kit.route(res, req, 'availability', this.availability);
    });
    app.post('/v1/reservations', (res, req) => {
      this.kit.route(res, req, 'reserve', this.reserve);
    });
    app.del('/v1/reservations/:id', (res, req) => {
      this.kit.route(res, req, 'release', this.release);
    });
    app.post('/v1/reservations/:id/confirm', (res, req) => {
      this.kit.route(res, req, 'confirm', this.confirm);
    });
  }

  private readonly availability = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const channel = req.getQuery('channel') ?? '';
    const sku = req.getQuery('sku') ?? '';
    const location = req.getQuery('location');
    if (channel.length === 0 || sku.length === 0) {
      ex.error(ErrorCode.BAD_REQUEST, 'channel and sku are required query parameters');
      return;
    }
    const at = location === undefined || location === '' ? null : location;
    const tooLong = checkIdFields({ channel, sku, location: at ?? undefined }, [
      'channel',
      'sku',
      'location',
    ]);
    if (tooLong !== null) {
      refuse(ex, tooLong);
      return;
    }
    if (!p.mayUseChannel(channel)) {
      refuse(ex, channelRefusal(p, channel, 'read'));
      return;
    }
    const a = this.ctx.engine.availability(channel, sku, at);
    if (a instanceof Promise)
      void a.then((value) => {
        answerAvailability(ex, value);
      });
    else answerAvailability(ex, a);
  };

  private readonly reserve = (ex: HttpExchange, _req: HttpRequest, p: Principal): void => {
    this.kit.readJson(ex, (value) => {
      const parsed = reservationBody.safeParse(value);
      if (!parsed.success) {
        ex.error(ErrorCode.BAD_REQUEST, describeIssue(parsed.error));
        return;
      }
      this.run(ex, RESERVE, parsed.data, p, true);
    });
  };

  private readonly release = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const reservationId = this.reservationId(ex, req);
    if (reservationId === null) return;
    this.run(ex, RELEASE, { reservationId }, p, false);
  };

  private readonly confirm = (ex: HttpExchange, req: HttpRequest, p: Principal): void => {
    const reservationId = this.reservationId(ex, req);
    if (reservationId === null) return;
    this.kit.readJson(ex, (value) => {
      const parsed = confirmBody.safeParse(value);
      if (!parsed.success) {
        ex.error(ErrorCode.BAD_REQUEST, describeIssue(parsed.error));
        return;
      }
      this.run(ex, CONFIRM, { reservationId, orderId: parsed.data.orderId }, p, false);
    });
  };

  private reservationId(ex: HttpExchange, req: HttpRequest): string | null {
    const id = decodeParam(req.getParameter(0));
    if (id === null) {
      ex.error(ErrorCode.BAD_REQUEST, 'reservation id is not valid percent-encoding');
    }
    return id;
  }

  /** Runs an op through its record; answers the reservation, or the error with its status. */
  private run<I>(
    ex: HttpExchange,
    record: CommandOp<I>,
    input: I,
    p: Principal,
    created: boolean,
  ): void {
    const command = record.fromInput(input, p);
    if (command instanceof OpRefusal) {
      refuse(ex, command);
      return;
    }
    this.kit.after(ex, this.ctx.engine.execute(command), (result: CommandResult) => {
      if (!result.ok) {
        ex.error(result.code, result.message, {
          reason: result.reason,
          available: result.available,
        });
        return;
      }
      const status = created && result.applied ? 201 : 200;
      ex.json(status, { ...result.reservation, duplicate: result.duplicate });
    });
  }
}

function answerAvailability(ex: HttpExchange, a: Availability | ErrorResult): void {
  if (!a.ok) {
    ex.error(a.code, a.message, { reason: a.reason });
    return;
  }
  ex.json(200, { channel: a.channel, sku: a.sku, location: a.location, available: a.available });
}
