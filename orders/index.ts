// The order service's public face: the gateway, the composition root, benchmarks and tests
// import only this.
export { OrderService } from './order-service.ts';
export type { HeldUnits, OrderServiceOptions, OrderStats, ReturnOfOrder } from './order-service.ts';
export { DEFAULT_RETURN_POLICY } from './return-policy.ts';
export type { ReturnPolicy } from './return-policy.ts';
export type { ReturnStatus, ReturnView } from './return-state.ts';
export type { CreditNote, Disposition } from './return-events.ts';
export type { OrderError, OrderOk, OrderResult } from './order-result.ts';
export { withOrder } from './order-result.ts';
export type { CancelRequest } from './decide-cancel.ts';
export type { FulfilmentAnswer } from './decide-answer.ts';
export type { LocationSourcing } from './candidates.ts';
export type { ProfileSelection } from './profile-selection.ts';
export type { Fulfilment, FulfilmentStatus } from './fulfilment-machine.ts';
export { ORDER_STATUSES } from './order-state.ts';
export { isExchangeOrderId } from './return-exchange.ts';
export { parseOrder } from './order-input.ts';
export type { FulfilmentView, OrderStatus, OrderView } from './order-state.ts';
export type { FulfilmentUpdate } from './order-events.ts';
export type { DeliveryOutcome, OutboxMessage, OutboxTransport } from './outbox-dispatcher.ts';
export type { SourcingProfile } from './sourcing.ts';
export type { Reconciliation, ReconciliationRow } from './reconciliation.ts';
