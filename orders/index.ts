// The order service's public face: the gateway, the composition root, benchmarks and tests
// import only this.
export { OrderService } from './order-service.ts';
export type {
  CancelRequest,
  FulfilmentAnswer,
  LocationSourcing,
  OrderError,
  OrderOk,
  OrderResult,
  OrderServiceOptions,
  OrderStats,
  ProfileSelection,
} from './order-service.ts';
export type { Fulfilment, FulfilmentStatus } from './fulfilment-machine.ts';
export type { FulfilmentView, OrderStatus, OrderView } from './order-state.ts';
export type { FulfilmentUpdate } from './order-events.ts';
export type { DeliveryOutcome, OutboxMessage, OutboxTransport } from './outbox-dispatcher.ts';
export type { SourcingProfile } from './sourcing.ts';
