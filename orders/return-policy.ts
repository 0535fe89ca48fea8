/**
 * The return policy (config `orders.returns`): how long after the last shipment a return may be
 * requested, the reason codes a return line may give, the restocking fee kept back on refunds
 * (not for the reasons that are the seller's fault), and whether shipping is refunded.
 */
export interface ReturnPolicy {
  readonly windowMs: number;
  readonly reasons: readonly string[];
  /** Percent of a refunded line's amount kept back, rounded to the minor unit. */
  readonly restockingFeePercent: number;
  readonly feeExemptReasons: readonly string[];
  /** `when_fully_returned`: shipping comes back with the credit note that refunds the last unit. */
  readonly refundShipping: 'never' | 'when_fully_returned';
}

export const DEFAULT_RETURN_POLICY: ReturnPolicy = {
  windowMs: 30 * 86_400_000,
  reasons: ['damaged', 'wrong_item', 'not_as_described', 'size', 'no_longer_needed', 'other'],
  restockingFeePercent: 0,
  feeExemptReasons: ['damaged', 'wrong_item', 'not_as_described'],
  refundShipping: 'when_fully_returned',
};

/** The restocking fee on `amount` for a line returned for `reason`. */
export function restockingFee(policy: ReturnPolicy, reason: string, amount: number): number {
  if (policy.restockingFeePercent === 0 || policy.feeExemptReasons.includes(reason)) return 0;
  return Math.round((amount * policy.restockingFeePercent) / 100);
}
