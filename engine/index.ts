// The engine's public face: the gateway, persistence, orders, benchmarks and tests import only
// this. What is not named here (the core, the books, the undo log) is the engine's own.
export { StockEngine } from './stock-engine.ts';
export type { Engine } from './engine.ts';
export { ENGINE_DEFAULTS } from './engine-options.ts';
export type { EngineOptions } from './engine-options.ts';
export type {
  Availability,
  EngineStats,
  RulesDocument,
  SnapshotSummary,
  WatchSnapshot,
} from './engine-views.ts';
export type { EngineStorage } from './engine-storage.ts';
export type { JournalState, JournalStats } from './journal-link.ts';
export type { SnapshotCursor, SnapshotHeader, SnapshotItem } from './snapshot-cursor.ts';
export type {
  ExtensionEntry,
  ExtensionItem,
  ExtensionJournal,
  JournalEntry,
  JournalExtension,
  JournalRecord,
  JournalWriter,
} from './journal.ts';
export type { StockPort } from './stock-port.ts';
export type { OfferReader } from './offer-reader.ts';
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
export { fail, PROMISE_SINK } from './results.ts';
export { ManualClock, SystemClock } from './clock.ts';
export type { Clock, TimerHandle } from './clock.ts';
export { DueQueue } from './due-queue.ts';
export type { HeapItem } from './expiry-heap.ts';
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
export { isValidId, isValidRef, locationProblem, productProblem } from './master-data.ts';
export type { LocationInput, ProductInput } from './master-data.ts';
export { topicOf } from './delta-conflation.ts';
export type { AvailabilityDelta, DeltaListener } from './delta-conflation.ts';
export type { EngineState, PositionState, ReservationRecord, SkuState } from './engine-state.ts';
export { MAX_QTY } from './command-validation.ts';
export { fnv1a32 } from './id-table.ts';
export { asciiString, NameCache } from './ascii.ts';
export { ByteReader } from './byte-reader.ts';
export { ByteWriter } from './byte-writer.ts';
export { RefillList } from './refill-list.ts';
