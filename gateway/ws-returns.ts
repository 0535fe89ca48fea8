import type { OrderResult } from '../orders/index.ts';
import type { OrderApi } from './order-api.ts';
import type { Principal } from './auth.ts';
import { describeIssue, type RequestId } from './message-schemas.ts';
import { fulfilmentLocation, orderChannel } from './order-access.ts';
import { AccessRefusal } from './reservation-access.ts';
import {
  receiveReturnMessage,
  refundReturnMessage,
  requestReturnMessage,
  resolveReturnHoldMessage,
  ReturnReply,
  type ReturnOp,
} from './return-messages.ts';
import { ErrorReply } from './ws-protocol.ts';
import { ErrorCode } from '../engine/index.ts';

/** A return op ready to run: the order service call and how its result is answered. */
export interface ReturnCall {
  readonly call: () => Promise<OrderResult>;
  readonly reply: (result: OrderResult) => ReturnReply | ErrorReply;
}

/**
 * A return op's frame checked and its caller's binding taken (the same rules as over HTTP:
 * storefronts request and refund, locations receive and resolve holds, admin does all), or the
 * refusal to answer at once. The WebSocket order handler (ws-orders.ts) runs and answers it.
 */
export function returnCall(
  orders: OrderApi,
  op: ReturnOp,
  msg: unknown,
  principal: Principal,
  id: RequestId,
): ReturnCall | ErrorReply {
  const refused = (e: AccessRefusal): ErrorReply => new ErrorReply(id, e.code, e.message, e.reason);
  const bad = (message: string): ErrorReply => new ErrorReply(id, ErrorCode.BAD_REQUEST, message);
  const answer =
    (returnId: string, creditNoteId: string | null) =>
    (r: OrderResult): ReturnReply | ErrorReply =>
      r.ok
        ? new ReturnReply(op, id, r, returnId, creditNoteId)
        : new ErrorReply(id, r.code, r.message, r.reason, r.available);
  switch (op) {
    case 'requestReturn': {
      const parsed = requestReturnMessage.safeParse(msg);
      if (!parsed.success) return bad(describeIssue(parsed.error));
      const channel = orderChannel(principal);
      if (channel instanceof AccessRefusal) return refused(channel);
      const m = parsed.data;
      const returnId = typeof m.return.returnId === 'string' ? m.return.returnId : '';
      return {
        call: () => orders.requestReturn(m.orderId, m.return, channel),
        reply: answer(returnId, null),
      };
    }
    case 'receiveReturn': {
      const parsed = receiveReturnMessage.safeParse(msg);
      if (!parsed.success) return bad(describeIssue(parsed.error));
      const location = fulfilmentLocation(principal);
      if (location instanceof AccessRefusal) return refused(location);
      const m = parsed.data;
      return {
        call: () => orders.receiveReturn(m.returnId, m.receipt, location),
        reply: answer(m.returnId, null),
      };
    }
    case 'resolveReturnHold': {
      const parsed = resolveReturnHoldMessage.safeParse(msg);
      if (!parsed.success) return bad(describeIssue(parsed.error));
      const location = fulfilmentLocation(principal);
      if (location instanceof AccessRefusal) return refused(location);
      const m = parsed.data;
      return {
        call: () => orders.resolveReturnHold(m.returnId, m.resolution, location),
        reply: answer(m.returnId, null),
      };
    }
    case 'refundReturn': {
      const parsed = refundReturnMessage.safeParse(msg);
      if (!parsed.success) return bad(describeIssue(parsed.error));
      const channel = orderChannel(principal);
      if (channel instanceof AccessRefusal) return refused(channel);
      const m = parsed.data;
      return {
        call: () => orders.refundReturn(m.returnId, { creditNoteId: m.creditNoteId }, channel),
        reply: answer(m.returnId, m.creditNoteId),
      };
    }
  }
}
