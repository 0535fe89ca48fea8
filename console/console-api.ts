import type { FulfilmentMessage, Order } from '../client/index.ts';

/** What GET /v1/console/session answers: who the key is and what its console shows. */
export interface Session {
  readonly name: string;
  readonly role: 'admin' | 'storefront' | 'location';
  readonly channel: string | null;
  readonly location: string | null;
  readonly channels: readonly string[];
  readonly locations: readonly { readonly id: string; readonly type: string }[];
  readonly skus: readonly string[];
  readonly orders: boolean;
}

/** GET /v1/console/stats: running totals since the server started. */
export interface StatsSample {
  /** Server time, epoch ms. */
  readonly at: number;
  readonly reserves: Readonly<Record<string, number>>;
  readonly orders: { readonly placed: number; readonly failed: number };
  readonly journal: { readonly commits: number; readonly records: number };
}

/** One stock feed as GET /v1/inventory/snapshots lists it. */
export interface FeedRecord {
  readonly at: string;
  readonly location: string;
  readonly asOf: number;
  readonly format: string;
  readonly lines: number;
  readonly result: string;
  readonly summary: {
    readonly applied: number;
    readonly stale: number;
    readonly zeroed: number;
    readonly rejected: number;
  } | null;
  readonly error: string | null;
}

/** An HTTP answer that was not 2xx, with the server's error code and message. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The HTTP reads of the console, each with the signed-in key. */
export class ConsoleApi {
  constructor(
    private readonly base: string,
    private readonly key: string,
  ) {}

  session(): Promise<Session> {
    return this.get<Session>('/v1/console/session');
  }

  stats(): Promise<StatsSample> {
    return this.get<StatsSample>('/v1/console/stats');
  }

  async orders(limit: number): Promise<readonly Order[]> {
    return (await this.get<{ orders: Order[] }>(`/v1/orders?limit=${limit}`)).orders;
  }

  order(orderId: string): Promise<Order> {
    return this.get<Order>(`/v1/orders/${encodeURIComponent(orderId)}`);
  }

  async pending(location: string): Promise<readonly FulfilmentMessage[]> {
    const q = encodeURIComponent(location);
    return (await this.get<{ messages: FulfilmentMessage[] }>(`/v1/fulfilments?location=${q}`))
      .messages;
  }

  async feeds(location: string): Promise<readonly FeedRecord[]> {
    const q = encodeURIComponent(location);
    return (await this.get<{ feeds: FeedRecord[] }>(`/v1/inventory/snapshots?location=${q}`)).feeds;
  }

  private async get<T>(path: string): Promise<T> {
    const res = await fetch(`${this.base}${path}`, {
      headers: { authorization: `Bearer ${this.key}` },
    });
    const body = (await res.json()) as unknown;
    if (!res.ok) {
      const e = body as { code?: unknown; message?: unknown };
      throw new ApiError(
        res.status,
        typeof e.code === 'string' ? e.code : 'HTTP',
        typeof e.message === 'string' ? e.message : `HTTP ${res.status}`,
      );
    }
    return body as T;
  }
}
