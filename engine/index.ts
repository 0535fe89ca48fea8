// The engine's public face: the gateway, persistence, benchmarks and tests import only this.
export { StockEngine } from './stock-engine.ts';
export type {
  Availability,
  EngineOptions,
  EngineStats,
  SnapshotCursor,
  SnapshotHeader,
  SnapshotItem,
  SnapshotSummary,
  WatchSnapshot,
} from './stock-engine.ts';
export type { JournalEntry, JournalParticipant, JournalRecord, JournalWriter } from './journal.ts';
export type { LocationChoice, LocationRanker } from './location-ranker.ts';
export { COMMAND_OPS } from './commands.ts';
export type {
  AdjustCommand,
  AllocateCommand,
  Command,
  CommandOp,
  CommandResult,
  ConfirmCommand,
  DeallocateCommand,
  ErrorResult,
  ExpireCommand,
  LocationQty,
  OkResult,
  PositionView,
  ReleaseCommand,
  ReservationState,
  ReservationView,
  ReserveCommand,
  ResultSink,
  SetOnHandCommand,
  ShipCommand,
} from './commands.ts';
export { ERROR_CODES, ErrorCode, Reason, StockflowError } from './errors.ts';
export { ManualClock, SystemClock } from './clock.ts';
export type { Clock, TimerHandle } from './clock.ts';
export { DEFAULT_RESERVATION_TTL_MS } from './channel-rules.ts';
export type {
  BufferRule,
  CapRule,
  ChannelInput,
  ExclusionRule,
  PickupBufferRule,
  QuantityRule,
  RulesInput,
} from './channel-rules.ts';
export { isValidId, isValidRef } from './master-data.ts';
export type { LocationInput, ProductInput } from './master-data.ts';
export { topicOf } from './delta-conflation.ts';
export type { AvailabilityDelta, DeltaListener } from './delta-conflation.ts';
export type { EngineState, PositionState, ReservationRecord, SkuState } from './engine-state.ts';
export { MAX_QTY } from './command-validation.ts';
export { OrderService } from './orders/order-service.ts';
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
} from './orders/order-service.ts';
export type {
  Fulfilment,
  FulfilmentStatus,
  FulfilmentView,
  OrderStatus,
  OrderView,
} from './orders/order-state.ts';
export type { FulfilmentUpdate } from './orders/order-events.ts';
export type {
  DeliveryOutcome,
  OutboxMessage,
  OutboxTransport,
} from './orders/outbox-dispatcher.ts';
export type { SourcingProfile } from './orders/sourcing.ts';
