import { Backoff, type BackoffOptions } from './backoff.ts';
import { StockflowError, type ErrorCode } from './client-errors.ts';
import { FrameEncoding, type Encoding, type ServerMessage } from './frame-encoding.ts';
import { FulfilmentInbox } from './fulfilment-inbox.ts';
import {
  defaultWebSocket,
  openSocket,
  type KeyPlacement,
  type OpenedSocket,
  type WebSocketConstructor,
} from './socket-factory.ts';
import { TopicFeed, type AvailabilityValue, type FeedListener } from './topic-feed.ts';
import type {
  BatchOperation,
  CancelOrderRequest,
  Fulfilment,
  FulfilmentAnswer,
  FulfilmentAnswerResult,
  FulfilmentMessage,
  Order,
  OrderInput,
  OrderResult,
  Reservation,
  ReserveRequest,
  ServerErrorCode,
} from './wire-types.ts';

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'closed';

/** A connection state event. */
export interface StateChange {
  readonly state: ConnectionState;
  readonly previous: ConnectionState;
  /** With `closed` after a 401/403: why the client gave up. Null otherwise. */
  readonly error: StockflowError | null;
  /** With `disconnected`: the WebSocket close code (1006 for a connection that never opened). */
  readonly closeCode: number | null;
  /** With `disconnected`: milliseconds until the next attempt. */
  readonly retryInMs: number | null;
}

/** Handles one fulfilment push; the push is acknowledged once the returned promise resolves. */
export type FulfilmentHandler = (message: FulfilmentMessage) => Promise<void> | void;

export interface ClientOptions {
  /** The WebSocket endpoint (`ws://host:8080/v1/ws`), or the server's base URL (`http://host:8080`). */
  readonly url: string;
  readonly apiKey: string;
  /** Frames in msgpack (binary, the default) or JSON (text). */
  readonly encoding?: Encoding;
  /**
   * The WebSocket constructor. Default: in Node the `ws` package when installed, else the
   * global WebSocket (browsers, Node 22+).
   */
  readonly WebSocket?: WebSocketConstructor;
  /**
   * How the key is sent: an Authorization header (`ws` only) or the `key.<key>` subprotocol
   * (any WebSocket). Default: the header with the `ws` package, the subprotocol otherwise.
   */
  readonly keyPlacement?: KeyPlacement;
  /** Per request, including any wait for a connection. Default 10,000 ms. */
  readonly requestTimeoutMs?: number;
  /**
   * While not connected: `wait` queues requests until the connection is back (their timeout
   * still runs), and sends requests again whose reply the drop lost; `fail` rejects them at once
   * with DISCONNECTED (new ones) or CONNECTION_LOST (those in flight). Default `wait`.
   */
  readonly whileDisconnected?: 'wait' | 'fail';
  /** Reconnect backoff (full jitter, 0.5 s to 20 s by default), or false for no reconnects. */
  readonly reconnect?: BackoffOptions | false;
  /**
   * Where a refused upgrade's status cannot be seen (browsers, Node's global WebSocket): after a
   * connection that never opened, ask `GET /v1/availability` with the key whether it is known,
   * so an unknown key (401) closes the client instead of retrying forever. Default true.
   */
  readonly authProbe?: boolean;
  /** For location keys: where fulfilment pushes go (also settable with `onFulfilment`). */
  readonly onFulfilment?: FulfilmentHandler;
}

export interface RequestOptions {
  /** Overrides the client's requestTimeoutMs for this request. */
  readonly timeoutMs?: number;
}

export type BatchResult =
  | { readonly ok: true; readonly reservation: Reservation }
  | { readonly ok: false; readonly error: StockflowError };

/** One `subscribe` call's topics and callback. */
export interface Subscription {
  readonly topics: readonly string[];
  /** Resolves when the first snapshots were shown; rejects when the server refused them. */
  readonly ready: Promise<void>;
  /** The last value of each topic the subscription has seen. */
  values(): ReadonlyMap<string, AvailabilityValue>;
  unsubscribe(): void;
}

interface ClientEvents {
  state: (change: StateChange) => void;
  /** Failures with no caller to tell: a fulfilment handler, a resubscribe, an onValue callback. */
  error: (error: Error) => void;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_TOPICS_PER_REQUEST = 1_024;
const NORMAL_CLOSURE = 1000;
/** Codes worth another try later (the request was not applied, or is safe to repeat). */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'TIMEOUT',
  'BUSY',
  'RATE_LIMITED',
  'UNAVAILABLE',
  'INTERNAL',
]);

type Resolve = (message: ServerMessage) => void;
type Reject = (error: StockflowError) => void;

/** A request waiting for its reply. */
class PendingRequest {
  sent = false;
  timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly id: number,
    readonly frame: Record<string, unknown>,
    /** Sent again after a reconnect (wait mode); otherwise a drop rejects it. */
    readonly resend: boolean,
    /** The client's own (subscribe, ack): never queued, never sent again, failures not shown. */
    readonly internal: boolean,
    readonly resolve: Resolve,
    readonly reject: Reject,
  ) {}
}

function errorFrom(m: ServerMessage): StockflowError {
  return new StockflowError({
    code: (typeof m.code === 'string' ? m.code : 'INTERNAL') as ServerErrorCode,
    message: typeof m.message === 'string' ? m.message : 'the server refused the request',
    reason: typeof m.reason === 'string' ? m.reason : null,
    available: typeof m.available === 'number' ? m.available : null,
    order: (m.order ?? null) as Order | null,
    fulfilment: (m.fulfilment ?? null) as Fulfilment | null,
  });
}

/** A reservation reply without its envelope (`op`, `id`). */
function reservationFrom(m: ServerMessage): Reservation {
  return {
    reservationId: m.reservationId as string,
    channel: m.channel as string,
    sku: m.sku as string,
    qty: m.qty as number,
    state: m.state as Reservation['state'],
    lines: m.lines as Reservation['lines'],
    expiresAt: m.expiresAt as number,
    orderId: (m.orderId ?? null) as string | null,
    duplicate: m.duplicate === true,
  };
}

function clientError(
  code: ErrorCode,
  message: string,
  status: number | null = null,
): StockflowError {
  return new StockflowError({ code, message, status });
}

/** A random id for a reservation the caller did not name (128 bits, hex). */
function randomId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return `r-${hex}`;
}

/** ws://…/v1/ws for the WebSocket, http://… for the auth probe. */
function endpoints(url: string): { readonly ws: string; readonly http: string } {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  else if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
    throw new TypeError(`url must be ws:, wss:, http: or https:, not ${u.protocol}`);
  }
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/ws';
  const http = new URL(u.href);
  http.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  http.pathname = '/';
  http.search = '';
  return { ws: u.href, http: http.origin };
}

/** One `subscribe` call: a feed listener handing values to the application's callback. */
class SubscriptionGroup implements FeedListener, Subscription {
  active = true;
  settled = false;
  retryTimer: ReturnType<typeof setTimeout> | null = null;
  readonly backoff: Backoff;
  readonly ready: Promise<void>;
  private readonly last = new Map<string, AvailabilityValue>();
  private settle!: (error: StockflowError | null) => void;

  constructor(
    private readonly client: StockflowClient,
    readonly topics: readonly string[],
    private readonly onValue: (value: AvailabilityValue) => void,
    backoff: BackoffOptions,
  ) {
    this.backoff = new Backoff(backoff);
    this.ready = new Promise<void>((resolve, reject) => {
      this.settle = (error) => {
        if (this.settled) return;
        this.settled = true;
        if (error === null) resolve();
        else reject(error);
      };
    });
    // A subscription nobody awaits must not turn a refusal into an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  deliver(value: AvailabilityValue): void {
    if (!this.active) return;
    this.last.set(value.topic, value);
    try {
      this.onValue(value);
    } catch (error) {
      this.client.reportError(error);
    }
  }

  values(): ReadonlyMap<string, AvailabilityValue> {
    return this.last;
  }

  succeeded(): void {
    this.backoff.reset();
    this.settle(null);
  }

  failed(error: StockflowError): void {
    this.settle(error);
  }

  unsubscribe(): void {
    this.client.dropGroup(this);
  }
}

/**
 * A Stockflow WebSocket client for browsers and Node 20+ (docs/client.md). It connects as soon as
 * it is made and stays connected: reconnects with backoff, resubscribes, and resends what a drop
 * left unanswered, until `close()` or a 401/403.
 */
export class StockflowClient {
  private readonly urls: { readonly ws: string; readonly http: string };
  private readonly apiKey: string;
  private readonly frames: FrameEncoding;
  private readonly timeoutMs: number;
  private readonly waitWhileDisconnected: boolean;
  private readonly backoffOptions: BackoffOptions;
  private readonly backoff: Backoff | null;
  private readonly authProbe: boolean;
  private readonly socketChoice: Promise<{
    readonly ctor: WebSocketConstructor;
    readonly placement: KeyPlacement;
  }>;

  private current: ConnectionState = 'connecting';
  private opened: OpenedSocket | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private closeError: StockflowError | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, PendingRequest>();
  private readonly feeds = new Map<string, TopicFeed>();
  private readonly groups = new Set<SubscriptionGroup>();
  private readonly resyncRetries = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly inbox = new FulfilmentInbox();
  private fulfilmentHandler: FulfilmentHandler | null;
  private readonly listeners: { [K in keyof ClientEvents]: Set<ClientEvents[K]> } = {
    state: new Set(),
    error: new Set(),
  };
  private closedWaiters: (() => void)[] = [];

  constructor(options: ClientOptions) {
    if (typeof options.apiKey !== 'string' || options.apiKey.length === 0) {
      throw new TypeError('apiKey is required');
    }
    this.urls = endpoints(options.url);
    this.apiKey = options.apiKey;
    this.frames = new FrameEncoding(options.encoding ?? 'msgpack');
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(this.timeoutMs > 0)) throw new RangeError('requestTimeoutMs must be above 0');
    this.waitWhileDisconnected = (options.whileDisconnected ?? 'wait') === 'wait';
    this.backoffOptions = options.reconnect === false ? {} : (options.reconnect ?? {});
    this.backoff = options.reconnect === false ? null : new Backoff(this.backoffOptions);
    this.authProbe = options.authProbe ?? true;
    this.fulfilmentHandler = options.onFulfilment ?? null;
    const injected = options.WebSocket;
    this.socketChoice =
      injected === undefined
        ? defaultWebSocket()
        : Promise.resolve({ ctor: injected, placement: options.keyPlacement ?? 'subprotocol' });
    if (options.keyPlacement !== undefined) {
      const placement = options.keyPlacement;
      this.socketChoice = this.socketChoice.then((c) => ({ ctor: c.ctor, placement }));
    }
    this.connect();
  }

  // ---- public face ----------------------------------------------------------------------------

  get state(): ConnectionState {
    return this.current;
  }

  /** Listens to `state` changes or `error`s; answers a function that stops listening. */
  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    const set = this.listeners[event] as Set<ClientEvents[K]>;
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /** Resolves when connected (at once if connected now); rejects once the client is closed. */
  connected(): Promise<void> {
    if (this.current === 'connected') return Promise.resolve();
    if (this.current === 'closed') {
      return Promise.reject(this.closeError ?? clientError('CLOSED', 'the client is closed'));
    }
    return new Promise((resolve, reject) => {
      const stop = this.on('state', (change) => {
        if (change.state === 'connected') {
          stop();
          resolve();
        } else if (change.state === 'closed') {
          stop();
          reject(change.error ?? clientError('CLOSED', 'the client is closed'));
        }
      });
    });
  }

  /**
   * Holds stock. Idempotent under `reservationId` (made here when left out): a reserve sent again
   * after a reconnect carries the same id, so it is applied once (`duplicate: true` on a repeat).
   */
  async reserve(request: ReserveRequest, options: RequestOptions = {}): Promise<Reservation> {
    const reply = await this.request(
      { op: 'reserve', ...request, reservationId: request.reservationId ?? randomId() },
      true,
      options,
    );
    return reservationFrom(reply);
  }

  async release(reservationId: string, options: RequestOptions = {}): Promise<Reservation> {
    const reply = await this.request({ op: 'release', reservationId }, true, options);
    return reservationFrom(reply);
  }

  async confirm(
    reservationId: string,
    orderId: string,
    options: RequestOptions = {},
  ): Promise<Reservation> {
    const reply = await this.request({ op: 'confirm', reservationId, orderId }, true, options);
    return reservationFrom(reply);
  }

  /** Up to 100 reserve, release and confirm operations in one frame; one result per operation. */
  async batch(
    operations: readonly BatchOperation[],
    options: RequestOptions = {},
  ): Promise<BatchResult[]> {
    const ops = operations.map((o) =>
      o.op === 'reserve' ? { ...o, reservationId: o.reservationId ?? randomId() } : { ...o },
    );
    const reply = await this.request({ op: 'batch', ops }, true, options);
    const results = Array.isArray(reply.results) ? (reply.results as ServerMessage[]) : [];
    return results.map((r) =>
      r.op === 'error'
        ? { ok: false as const, error: errorFrom(r) }
        : { ok: true as const, reservation: reservationFrom(r) },
    );
  }

  /** Idempotent under the order's id (and `idempotencyKey` when given). */
  async placeOrder(
    order: OrderInput,
    options: RequestOptions & { readonly idempotencyKey?: string } = {},
  ): Promise<OrderResult> {
    const reply = await this.request(
      { op: 'placeOrder', idempotencyKey: options.idempotencyKey, order },
      true,
      options,
    );
    return { order: reply.order as Order, duplicate: reply.duplicate === true };
  }

  /**
   * Cancels an order or some of its units. A cancel naming a `qty` is not sent again after a
   * drop (a repeat could cancel more): it fails with CONNECTION_LOST and the caller decides.
   */
  async cancelOrder(
    request: CancelOrderRequest,
    options: RequestOptions = {},
  ): Promise<OrderResult> {
    const repeatable = request.lines?.every((l) => l.qty === undefined) ?? true;
    const reply = await this.request({ op: 'cancelOrder', ...request }, repeatable, options);
    return { order: reply.order as Order, duplicate: reply.duplicate === true };
  }

  /** A location's answer about one of its fulfilments (repeats answer `duplicate: true`). */
  async fulfilmentAnswer(
    fulfilmentId: string,
    answer: FulfilmentAnswer,
    options: RequestOptions = {},
  ): Promise<FulfilmentAnswerResult> {
    const reply = await this.request(
      { op: 'fulfilmentAnswer', fulfilmentId, answer },
      true,
      options,
    );
    return {
      orderId: reply.orderId as string,
      fulfilment: (reply.fulfilment ?? null) as Fulfilment | null,
      duplicate: reply.duplicate === true,
    };
  }

  /**
   * Live availability of `topics` (`availability:{channel}:{sku}[@{location}]`): `onValue` gets
   * each topic's snapshot, then every change. After a reconnect or a gap in seq the client
   * fetches a fresh snapshot by itself and shows it with `resynced: true`; deltas already
   * contained in a snapshot are dropped, so every value shown is one the server had.
   */
  subscribe(topics: readonly string[], onValue: (value: AvailabilityValue) => void): Subscription {
    const unique = [...new Set(topics)];
    if (unique.length === 0 || unique.length > MAX_TOPICS_PER_REQUEST) {
      throw new RangeError(`subscribe takes 1 to ${MAX_TOPICS_PER_REQUEST} topics`);
    }
    for (const t of unique) {
      if (typeof t !== 'string' || !t.startsWith('availability:')) {
        throw new TypeError(
          `not a topic: ${JSON.stringify(t)} (availability:{channel}:{sku}[@{location}])`,
        );
      }
    }
    const group = new SubscriptionGroup(this, unique, onValue, this.backoffOptions);
    if (this.current === 'closed') {
      group.failed(this.closeError ?? clientError('CLOSED', 'the client is closed'));
      return group;
    }
    this.groups.add(group);
    for (const t of unique) if (!this.feeds.has(t)) this.feeds.set(t, new TopicFeed(t));
    if (this.current === 'connected') this.sendSubscribe(group);
    return group;
  }

  /** Where fulfilment pushes go (location keys). Replaces the handler given in the options. */
  onFulfilment(handler: FulfilmentHandler): void {
    this.fulfilmentHandler = handler;
  }

  /** Closes for good: pending requests fail with CLOSED, no reconnect. */
  close(): Promise<void> {
    if (this.current === 'closed') return Promise.resolve();
    const socket = this.opened?.socket ?? null;
    const done = new Promise<void>((resolve) => {
      if (socket === null || socket.readyState === 3) resolve();
      else this.closedWaiters.push(resolve);
    });
    this.shutDown(null);
    return done;
  }

  // ---- for SubscriptionGroup ------------------------------------------------------------------

  /** @internal */
  reportError(error: unknown): void {
    const e = error instanceof Error ? error : new Error(String(error));
    for (const l of this.listeners.error) l(e);
  }

  /** @internal */
  dropGroup(group: SubscriptionGroup): void {
    if (!group.active) return;
    group.active = false;
    this.groups.delete(group);
    if (group.retryTimer !== null) clearTimeout(group.retryTimer);
    group.failed(clientError('CLOSED', 'unsubscribed'));
    const gone: string[] = [];
    for (const t of group.topics) {
      const feed = this.feeds.get(t);
      if (feed === undefined) continue;
      feed.detach(group);
      if (feed.listenerCount === 0 && !this.wantedByAnyGroup(t)) {
        this.feeds.delete(t);
        gone.push(t);
        const retry = this.resyncRetries.get(t);
        if (retry !== undefined) clearTimeout(retry);
        this.resyncRetries.delete(t);
      }
    }
    if (gone.length > 0 && this.current === 'connected') {
      this.internal({ op: 'unsubscribe', topics: gone }).catch(() => undefined);
    }
  }

  // ---- connection -----------------------------------------------------------------------------

  private setState(
    state: ConnectionState,
    extra: Partial<Omit<StateChange, 'state' | 'previous'>> = {},
  ): void {
    const previous = this.current;
    if (previous === state) return;
    this.current = state;
    const change: StateChange = {
      state,
      previous,
      error: extra.error ?? null,
      closeCode: extra.closeCode ?? null,
      retryInMs: extra.retryInMs ?? null,
    };
    for (const l of this.listeners.state) l(change);
  }

  private connect(): void {
    this.reconnectTimer = null;
    if (this.current === 'closed') return;
    this.setState('connecting');
    this.socketChoice.then(
      ({ ctor, placement }) => {
        if (this.current !== 'connecting') return;
        let opened: OpenedSocket;
        try {
          opened = openSocket(ctor, this.urls.ws, this.apiKey, placement);
        } catch (error) {
          this.reportError(error);
          this.dropped(null, 1006, false);
          return;
        }
        this.opened = opened;
        this.attach(opened);
      },
      (error: unknown) => {
        this.reportError(error);
        this.shutDown(clientError('CLOSED', (error as Error).message));
      },
    );
  }

  private attach(opened: OpenedSocket): void {
    const socket = opened.socket;
    let wasOpen = false;
    socket.onopen = () => {
      if (this.opened !== opened) return;
      wasOpen = true;
      this.onOpen();
    };
    socket.onmessage = (event) => {
      if (this.opened !== opened) return;
      const message = this.frames.decode(event.data);
      if (message !== null) this.onMessage(message);
    };
    socket.onerror = () => {
      // A close event always follows; that is where the drop is handled.
    };
    socket.onclose = (event) => {
      const waiters = this.closedWaiters;
      this.closedWaiters = [];
      for (const w of waiters) w();
      if (this.opened !== opened) return;
      this.opened = null;
      this.dropped(opened, event.code, wasOpen);
    };
  }

  private onOpen(): void {
    this.backoff?.reset();
    this.setState('connected');
    for (const group of this.groups) this.sendSubscribe(group);
    if (this.fulfilmentHandler !== null && this.frames.encoding === 'msgpack') {
      // Pushes come in the encoding of the socket's last frame: say msgpack before the first.
      this.internal({ op: 'ack', messageIds: [] }).catch(() => undefined);
    }
    const queued = [...this.pending.values()].filter((p) => !p.sent).sort((a, b) => a.id - b.id);
    for (const p of queued) this.transmit(p);
  }

  private dropped(opened: OpenedSocket | null, code: number, wasOpen: boolean): void {
    if (this.current === 'closed') return;
    for (const feed of this.feeds.values()) feed.expectSnapshot();
    for (const timer of this.resyncRetries.values()) clearTimeout(timer);
    this.resyncRetries.clear();
    for (const group of this.groups) {
      if (group.retryTimer !== null) clearTimeout(group.retryTimer);
      group.retryTimer = null;
    }
    for (const p of [...this.pending.values()]) {
      if (!p.sent) continue;
      if (!p.internal && p.resend && this.waitWhileDisconnected) {
        p.sent = false;
        continue;
      }
      this.settle(p);
      p.reject(
        clientError(
          'CONNECTION_LOST',
          `the connection dropped before the reply to ${String(p.frame.op)} (it may have been applied)`,
        ),
      );
    }
    const status = opened?.refusedStatus() ?? null;
    if (status === 401 || status === 403) {
      this.refused(status);
      return;
    }
    if (!wasOpen && opened !== null && !opened.seesStatus && this.authProbe) {
      this.setState('disconnected', { closeCode: code });
      void this.probe().then((probed) => {
        if (this.current === 'closed') return;
        if (probed === 401 || probed === 403) this.refused(probed);
        else this.scheduleReconnect(code);
      });
      return;
    }
    this.scheduleReconnect(code);
  }

  private scheduleReconnect(code: number): void {
    if (this.backoff === null) {
      this.setState('disconnected', { closeCode: code });
      this.shutDown(clientError('CLOSED', `the connection closed (${code}) and reconnect is off`));
      return;
    }
    const delay = this.backoff.next();
    this.setState('disconnected', { closeCode: code, retryInMs: delay });
    this.reconnectTimer = setTimeout(() => {
      this.connect();
    }, delay);
  }

  /** Asks the HTTP API whether the key is known: 401/403, or null when it cannot tell. */
  private async probe(): Promise<number | null> {
    if (typeof globalThis.fetch !== 'function') return null;
    try {
      const res = await globalThis.fetch(`${this.urls.http}/v1/availability`, {
        headers: { authorization: `Bearer ${this.apiKey}` },
      });
      await res.arrayBuffer();
      return res.status === 401 ? 401 : null;
    } catch {
      return null;
    }
  }

  private refused(status: number): void {
    const code = status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN';
    const error = clientError(
      code,
      status === 401
        ? 'the server refused the API key (401): not reconnecting'
        : 'the server refused the connection (403: the key may not use the WebSocket here, or the origin is not allowed): not reconnecting',
      status,
    );
    this.reportError(error);
    this.shutDown(error);
  }

  /** Ends everything: pending requests and subscriptions fail with `error` (or CLOSED). */
  private shutDown(error: StockflowError | null): void {
    if (this.current === 'closed') return;
    this.closeError = error;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const opened = this.opened;
    this.opened = null;
    this.setState('closed', { error });
    const reason = error ?? clientError('CLOSED', 'the client was closed');
    for (const p of [...this.pending.values()]) {
      this.settle(p);
      p.reject(reason);
    }
    for (const group of this.groups) {
      if (group.retryTimer !== null) clearTimeout(group.retryTimer);
      group.failed(reason);
    }
    for (const timer of this.resyncRetries.values()) clearTimeout(timer);
    this.resyncRetries.clear();
    if (opened !== null) {
      const socket = opened.socket;
      socket.onclose = () => {
        const waiters = this.closedWaiters;
        this.closedWaiters = [];
        for (const w of waiters) w();
      };
      try {
        socket.close(NORMAL_CLOSURE, 'client closed');
      } catch {
        // closing a socket that never opened may throw (ws): it is gone either way
        const waiters = this.closedWaiters;
        this.closedWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  // ---- requests -------------------------------------------------------------------------------

  private request(
    frame: Record<string, unknown>,
    resend: boolean,
    options: RequestOptions,
  ): Promise<ServerMessage> {
    if (this.current === 'closed') {
      return Promise.reject(this.closeError ?? clientError('CLOSED', 'the client is closed'));
    }
    if (this.current !== 'connected' && !this.waitWhileDisconnected) {
      return Promise.reject(
        clientError(
          'DISCONNECTED',
          `not connected (${this.current}): ${String(frame.op)} not sent`,
        ),
      );
    }
    return this.enqueue(frame, resend, false, options.timeoutMs ?? this.timeoutMs);
  }

  /** A request of the client's own: only while connected, never sent again. */
  private internal(frame: Record<string, unknown>): Promise<ServerMessage> {
    if (this.current !== 'connected') {
      return Promise.reject(clientError('DISCONNECTED', 'not connected'));
    }
    return this.enqueue(frame, false, true, this.timeoutMs);
  }

  private enqueue(
    frame: Record<string, unknown>,
    resend: boolean,
    internal: boolean,
    timeoutMs: number,
  ): Promise<ServerMessage> {
    return new Promise<ServerMessage>((resolve, reject) => {
      const id = this.nextId++;
      const p = new PendingRequest(id, frame, resend, internal, resolve, reject);
      p.timer = setTimeout(() => {
        if (this.pending.get(id) !== p) return;
        this.settle(p);
        reject(
          clientError(
            'TIMEOUT',
            `no reply to ${String(frame.op)} within ${timeoutMs} ms${p.sent ? '' : ' (never connected to send it)'}`,
          ),
        );
      }, timeoutMs);
      this.pending.set(id, p);
      if (this.current === 'connected') this.transmit(p);
    });
  }

  private transmit(p: PendingRequest): void {
    const socket = this.opened?.socket;
    if (socket === undefined) return;
    p.sent = true;
    try {
      socket.send(this.frames.encode({ ...p.frame, id: p.id }));
    } catch {
      // The socket is going away: its close event resends or fails the request.
    }
  }

  private settle(p: PendingRequest): void {
    this.pending.delete(p.id);
    if (p.timer !== null) clearTimeout(p.timer);
  }

  // ---- incoming -------------------------------------------------------------------------------

  private onMessage(m: ServerMessage): void {
    switch (m.op) {
      case 'availability':
        this.onDelta(m);
        return;
      case 'fulfilment':
        this.onPush(m);
        return;
    }
    const id = m.id;
    if (typeof id !== 'number') {
      if (m.op === 'error') this.reportError(errorFrom(m));
      return;
    }
    const p = this.pending.get(id);
    if (p === undefined) return; // timed out already
    this.settle(p);
    if (m.op === 'error') p.reject(errorFrom(m));
    else p.resolve(m);
  }

  private onDelta(m: ServerMessage): void {
    if (typeof m.topic !== 'string' || typeof m.available !== 'number') return;
    if (typeof m.seq !== 'number') return;
    const feed = this.feeds.get(m.topic);
    if (feed === undefined) return;
    if (feed.delta(m.available, m.seq) === 'resync') this.resync(feed.topic);
  }

  private sendSubscribe(group: SubscriptionGroup): void {
    group.retryTimer = null;
    for (const t of group.topics) {
      const feed = this.feeds.get(t);
      if (feed?.pending === true) feed.attach(group);
    }
    this.internal({ op: 'subscribe', topics: group.topics }).then(
      (reply) => {
        if (!group.active) return;
        this.applySnapshots(reply, group);
        group.succeeded();
      },
      (error: unknown) => {
        if (!group.active || !(error instanceof StockflowError)) return;
        if (error.code === 'CONNECTION_LOST' || error.code === 'DISCONNECTED') return;
        if (error.code === 'CLOSED' || this.current === 'closed') return;
        if (TRANSIENT.has(error.code)) {
          group.retryTimer = setTimeout(() => {
            if (group.active && this.current === 'connected') this.sendSubscribe(group);
          }, group.backoff.next());
          return;
        }
        // Refused (FORBIDDEN, NOT_FOUND, BAD_REQUEST): the subscription ends.
        if (group.settled) this.reportError(error);
        group.failed(error);
        this.dropGroup(group);
      },
    );
  }

  private applySnapshots(reply: ServerMessage, group: SubscriptionGroup | null): void {
    const snapshots = Array.isArray(reply.snapshots) ? (reply.snapshots as ServerMessage[]) : [];
    const stray: string[] = [];
    for (const s of snapshots) {
      if (typeof s.topic !== 'string' || typeof s.available !== 'number') continue;
      if (typeof s.seq !== 'number') continue;
      const feed = this.feeds.get(s.topic);
      if (feed === undefined) {
        stray.push(s.topic);
        continue;
      }
      if (group !== null && feed.pending && group.topics.includes(s.topic)) feed.attach(group);
      const verdict = feed.snapshot(s.available, s.seq);
      if (group !== null && group.topics.includes(s.topic)) feed.prime(group);
      if (verdict === 'resync') this.resync(feed.topic);
    }
    if (stray.length > 0) {
      // Unsubscribed while the reply was on its way.
      this.internal({ op: 'unsubscribe', topics: stray }).catch(() => undefined);
    }
  }

  /** A gap in a topic's seq: a fresh snapshot of that topic alone. */
  private resync(topic: string): void {
    if (this.current !== 'connected' || this.resyncRetries.has(topic)) return;
    this.internal({ op: 'subscribe', topics: [topic] }).then(
      (reply) => {
        this.applySnapshots(reply, null);
      },
      (error: unknown) => {
        if (!(error instanceof StockflowError) || this.current !== 'connected') return;
        if (error.code === 'CONNECTION_LOST' || error.code === 'DISCONNECTED') return;
        const feed = this.feeds.get(topic);
        if (feed === undefined) return;
        if (!TRANSIENT.has(error.code)) {
          this.reportError(error);
          return;
        }
        const timer = setTimeout(() => {
          this.resyncRetries.delete(topic);
          if (this.feeds.get(topic)?.pending === true) this.resync(topic);
        }, this.backoff?.minDelayMs ?? 500);
        this.resyncRetries.set(topic, timer);
      },
    );
  }

  private wantedByAnyGroup(topic: string): boolean {
    for (const g of this.groups) if (g.topics.includes(topic)) return true;
    return false;
  }

  private onPush(m: ServerMessage): void {
    const handler = this.fulfilmentHandler;
    const messageId = m.messageId;
    if (handler === null || typeof messageId !== 'string') return;
    const verdict = this.inbox.receive(messageId);
    if (verdict === 'ack') {
      this.ack(messageId);
      return;
    }
    if (verdict === 'wait') return;
    const message: FulfilmentMessage = {
      messageId,
      type: typeof m.type === 'string' ? m.type : '',
      orderId: typeof m.orderId === 'string' ? m.orderId : '',
      createdAt: typeof m.createdAt === 'string' ? m.createdAt : '',
      data: m.data ?? null,
    };
    Promise.resolve()
      .then(() => handler(message))
      .then(
        () => {
          this.inbox.done(messageId);
          this.ack(messageId);
        },
        (error: unknown) => {
          // No ack: the server pushes it again and the handler gets another go.
          this.inbox.failed(messageId);
          this.reportError(error);
        },
      );
  }

  /** Acks are not resent: after a drop the server pushes again, and the repeat is acked. */
  private ack(messageId: string): void {
    if (this.current !== 'connected') return;
    this.internal({ op: 'ack', messageIds: [messageId] }).catch(() => undefined);
  }
}
