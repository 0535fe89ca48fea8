/**
 * The Stockflow client's public face (`stockflow/client`): everything an application imports is
 * named here. See docs/client.md.
 */
export { StockflowClient } from './stockflow-client.ts';
export type {
  BatchResult,
  ClientOptions,
  ConnectionState,
  FulfilmentHandler,
  RequestOptions,
  StateChange,
  Subscription,
} from './stockflow-client.ts';
export { StockflowError, isStockflowError } from './client-errors.ts';
export type { ClientErrorCode, ErrorCode } from './client-errors.ts';
export { Backoff } from './backoff.ts';
export type { BackoffOptions } from './backoff.ts';
export type { AvailabilityValue } from './topic-feed.ts';
export type { Encoding } from './frame-encoding.ts';
export type { KeyPlacement, WebSocketConstructor, WebSocketLike } from './socket-factory.ts';
export type {
  BatchOperation,
  CancelOrderRequest,
  Fulfilment,
  FulfilmentAnswer,
  FulfilmentAnswerResult,
  FulfilmentMessage,
  FulfilmentStatus,
  Order,
  OrderInput,
  OrderLine,
  OrderResult,
  OrderStatus,
  Reservation,
  ReservationLine,
  ReservationState,
  ReserveRequest,
  ServerErrorCode,
} from './wire-types.ts';
