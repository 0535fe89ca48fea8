import { ErrorCode, fail, Reason, type ErrorResult } from '../engine/index.ts';
import type { Order, OrderView } from './order-state.ts';

export interface OrderOk {
  readonly ok: true;
  readonly order: OrderView;
  /** False when the request repeated one already applied (an idempotent replay). */
  readonly created: boolean;
  readonly duplicate: boolean;
}

export interface OrderError extends ErrorResult {
  /** The order as it stands, when the failure concerns an existing order (e.g. unsourceable). */
  readonly order: OrderView | null;
}

export type OrderResult = OrderOk | OrderError;

export function withOrder(error: ErrorResult, order: OrderView | null): OrderError {
  return { ...error, order };
}

/** A command applied to an order (or repeated one applied): the order as it stands now. */
export function applied(order: Order, duplicate: boolean): OrderOk {
  return { ok: true, order: order.view(), created: false, duplicate };
}

/** A placement's answer: a placement that could not be sourced is INSUFFICIENT_STOCK. */
export function placed(order: Order, created: boolean): OrderResult {
  const view = order.view();
  if (order.failedPlacement) {
    return withOrder(
      fail(
        ErrorCode.INSUFFICIENT_STOCK,
        Reason.NOT_SOURCEABLE,
        order.cancelReason ?? 'not sourceable',
      ),
      view,
    );
  }
  return { ok: true, order: view, created, duplicate: !created };
}
