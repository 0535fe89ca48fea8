import { ErrorCode, fail, Reason } from '../engine/index.ts';
import { refuse, repeated, type Decided } from './decision.ts';
import type { OrderInput } from './order-input.ts';
import type { Order } from './order-state.ts';

export interface PlaceCommand {
  readonly input: OrderInput;
  readonly fingerprint: string;
  readonly idempotencyKey: string | null;
}

/** What placing reads: the idempotency index and the engine's master data. */
export interface PlaceContext {
  /** The order an Idempotency-Key was used for in a channel, or null. */
  keyOwner(channel: string, key: string): string | null;
  hasChannel(channel: string): boolean;
  hasProduct(sku: string): boolean;
  hasLocation(location: string): boolean;
}

/**
 * Placing an order (`existing`: the order under the same id, if any). Idempotent under the order
 * id and under the Idempotency-Key (scoped to the channel), checked here once: the same body
 * again is a duplicate, another body, or a key used for another order, is CONFLICT.
 */
export function decidePlace(
  existing: Order | null,
  command: PlaceCommand,
  context: PlaceContext,
): Decided {
  const { input, fingerprint, idempotencyKey } = command;
  if (idempotencyKey !== null) {
    const owner = context.keyOwner(input.channel, idempotencyKey);
    if (owner !== null && owner !== input.orderId) {
      return refuse(
        fail(ErrorCode.CONFLICT, Reason.ID_REUSED, `Idempotency-Key was used for order ${owner}`),
        false,
      );
    }
  }
  if (existing !== null) {
    return repeated(existing.fingerprint, fingerprint, `order ${input.orderId}`, false);
  }
  if (!context.hasChannel(input.channel)) {
    return refuse(
      fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_CHANNEL, `unknown channel ${input.channel}`),
      false,
    );
  }
  for (const line of input.lines) {
    if (!context.hasProduct(line.sku)) {
      return refuse(
        fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_SKU, `unknown sku ${line.sku}`),
        false,
      );
    }
  }
  if (input.delivery.type === 'pickup' && !context.hasLocation(input.delivery.location)) {
    return refuse(
      fail(
        ErrorCode.NOT_FOUND,
        Reason.UNKNOWN_LOCATION,
        `unknown location ${input.delivery.location}`,
      ),
      false,
    );
  }
  return {
    ok: true,
    duplicate: false,
    stock: [],
    event: { kind: 'received', input, idempotencyKey, fingerprint },
    messages: [],
    reconcile: 'fresh',
    resourcing: false,
    count: 'placed',
  };
}
