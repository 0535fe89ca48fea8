import type { Config } from '../config/index.ts';
import type { OrderServiceOptions } from '../orders/index.ts';

/** The order service's settings that come from the config alone (no transport, no clock). */
export type OrderSettings = Pick<
  OrderServiceOptions,
  | 'profiles'
  | 'selection'
  | 'defaultProfile'
  | 'locations'
  | 'acceptTimeoutMs'
  | 'maxSourcingAttempts'
  | 'backorderRetryMs'
  | 'retainCompletedMs'
  | 'outbox'
  | 'returns'
>;

/** What the server (main.ts) and the offline re-shard's order check build an OrderService from. */
export function orderSettings(config: Config): OrderSettings {
  const o = config.orders;
  return {
    profiles: o.profiles,
    selection: o.selection,
    defaultProfile: o.defaultProfile,
    locations: o.locations,
    acceptTimeoutMs: o.fulfilment.acceptTimeoutMs,
    maxSourcingAttempts: o.fulfilment.maxSourcingAttempts,
    backorderRetryMs: o.fulfilment.backorderRetryMs,
    retainCompletedMs: o.retainCompletedMs,
    outbox: o.outbox,
    returns: {
      windowMs: o.returns.windowDays * 86_400_000,
      reasons: o.returns.reasons,
      restockingFeePercent: o.returns.restockingFeePercent,
      feeExemptReasons: o.returns.feeExemptReasons,
      refundShipping: o.returns.refundShipping,
      exchangeOn: o.returns.exchangeOn,
    },
  };
}
