import type { DecideContext } from './decision.ts';
import type { ReturnPolicy } from './return-policy.ts';

/** What the return decisions read besides the order and the command. */
export interface ReturnContext extends DecideContext {
  readonly returnPolicy: ReturnPolicy;
  hasLocation(location: string): boolean;
  /** Whether a SKU exists (an exchange's replacement lines). */
  hasProduct(sku: string): boolean;
  /** The order a return id belongs to, or null (return ids are unique across orders). */
  returnOwner(returnId: string): string | null;
  /**
   * What an order's units not cancelled are worth at its prices, or null when it is not in memory
   * (an exchange order a crash kept from being placed yet: it will be, whole).
   */
  orderValue(orderId: string): number | null;
}
