/**
 * The return policy (config `orders.returns`): how long after the last shipment a return may be
 * requested, the reason codes a return line may give, the restocking fee kept back on refunds
 * (not for the reasons that are the seller's fault), whether shipping is refunded, and when an
 * exchange is placed.
 */
export interface ReturnPolicy {
  readonly windowMs: number;
  readonly reasons: readonly string[];
  /** Percent of a refunded line's amount kept back, rounded to the minor unit. */
  readonly restockingFeePercent: number;
  readonly feeExemptReasons: readonly string[];
  /** `when_fully_returned`: shipping comes back with the credit note that refunds the last unit. */
  readonly refundShipping: 'never' | 'when_fully_returned';
  /**
   * When a return's replacement lines become their own order (docs/returns.md "Exchanges"):
   * `receipt`, once the units that arrived cover the replacement's value (the items back first);
   * `request`, at once (an advance exchange: the seller carries the risk of units never sent).
   */
  readonly exchangeOn: 'receipt' | 'request';
}

export const DEFAULT_RETURN_POLICY: ReturnPolicy = {
  windowMs: 30 * 86_400_000,
  reasons: ['damaged', 'wrong_item', 'not_as_described', 'size', 'no_longer_needed', 'other'],
  restockingFeePercent: 0,
  feeExemptReasons: ['damaged', 'wrong_item', 'not_as_described'],
  refundShipping: 'when_fully_returned',
  exchangeOn: 'receipt',
};

/** The restocking fee on `amount` for a line returned for `reason`. */
export function restockingFee(policy: ReturnPolicy, reason: string, amount: number): number {
  if (policy.restockingFeePercent === 0 || policy.feeExemptReasons.includes(reason)) return 0;
  return Math.round((amount * policy.restockingFeePercent) / 100);
}
