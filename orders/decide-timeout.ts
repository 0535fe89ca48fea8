import { locationStream, type Decision } from './decision.ts';
import { transitionOf } from './fulfilment-machine.ts';
import type { Order } from './order-state.ts';

export interface TimeoutCommand {
  readonly fulfilmentId: string;
}

/**
 * A fulfilment's answer deadline passed. If the state machine still lets it time out (it was
 * never answered), it is escalated: the location is told to drop it, and the order re-sourced
 * without that location. Null: nothing to do (answered meanwhile, or the order is gone).
 */
export function decideTimeout(order: Order | null, command: TimeoutCommand): Decision | null {
  const { fulfilmentId } = command;
  const x = order?.fulfilment(fulfilmentId);
  if (order === null || x === undefined) return null;
  if (transitionOf(x, 'timed_out').guard(x, null) !== 'apply') return null;
  return {
    ok: true,
    duplicate: false,
    stock: [],
    event: {
      kind: 'fulfilment',
      fulfilmentId,
      update: 'timed_out',
      picked: null,
      carrier: null,
      tracking: null,
      reason: `no answer by ${new Date(x.dueBy).toISOString()}`,
    },
    messages: [
      {
        stream: locationStream(x.location),
        type: 'fulfilment.cancelled',
        body: {
          fulfilmentId,
          orderId: order.orderId,
          location: x.location,
          lines: x.lines,
          reason: 'not answered in time',
        },
      },
    ],
    reconcile: 'always',
    resourcing: true,
    count: 'timeouts',
  };
}
