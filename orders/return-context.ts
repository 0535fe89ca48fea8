import type { DecideContext } from './decision.ts';
import type { ReturnPolicy } from './return-policy.ts';

/** What the return decisions read besides the order and the command. */
export interface ReturnContext extends DecideContext {
  readonly returnPolicy: ReturnPolicy;
  hasLocation(location: string): boolean;
  /** The order a return id belongs to, or null (return ids are unique across orders). */
  returnOwner(returnId: string): string | null;
}
