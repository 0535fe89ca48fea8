/**
 * The part of a WebSocket the client uses: what browsers, Node 22's global WebSocket and the
 * `ws` package all offer.
 */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { readonly data: unknown }) => void) | null;
  onclose: ((event: { readonly code: number; readonly reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/**
 * A WebSocket constructor: the browser's, Node's global one, `ws`'s (whose third argument
 * carries headers), or any other with the standard shape.
 */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: { headers?: Record<string, string> },
) => WebSocketLike;

/** The `ws` package's extras: the refused upgrade's status, and an abort. */
interface WsExtras {
  on(
    event: 'unexpected-response',
    listener: (request: unknown, response: { statusCode?: number }) => void,
  ): void;
  terminate(): void;
}

function isWsSocket(socket: WebSocketLike): socket is WebSocketLike & WsExtras {
  const s = socket as Partial<WsExtras>;
  return typeof s.on === 'function' && typeof s.terminate === 'function';
}

export const WS_PROTOCOL = 'stockflow.v1';

/** How the key travels: a header (Node) or the `key.<key>` subprotocol (browsers). */
export type KeyPlacement = 'header' | 'subprotocol';

/** A socket being opened, and what is known of a refused upgrade. */
export interface OpenedSocket {
  readonly socket: WebSocketLike;
  /** The upgrade's HTTP status when the server refused it and the WebSocket can tell (ws). */
  refusedStatus(): number | null;
  /** True when a refused upgrade's status can be seen on this socket. */
  readonly seesStatus: boolean;
}

export function openSocket(
  ctor: WebSocketConstructor,
  url: string,
  key: string,
  placement: KeyPlacement,
): OpenedSocket {
  const socket =
    placement === 'header'
      ? new ctor(url, [WS_PROTOCOL], { headers: { authorization: `Bearer ${key}` } })
      : new ctor(url, [WS_PROTOCOL, `key.${key}`]);
  socket.binaryType = 'arraybuffer';
  let status: number | null = null;
  const seesStatus = isWsSocket(socket);
  if (seesStatus) {
    socket.on('unexpected-response', (_request, response) => {
      status = response.statusCode ?? 0;
      // With a listener here ws leaves the request open: end it (close and error follow).
      socket.terminate();
    });
  }
  return { socket, refusedStatus: () => status, seesStatus };
}

interface NodeGlobals {
  readonly process?: { readonly versions?: { readonly node?: string } };
  readonly WebSocket?: unknown;
}

/**
 * The WebSocket to use when none was given: in Node the `ws` package when it is installed (it
 * sends the key as a header and shows a refused upgrade's status), else the global WebSocket
 * (browsers, Node 22+).
 */
export async function defaultWebSocket(): Promise<{
  readonly ctor: WebSocketConstructor;
  readonly placement: KeyPlacement;
}> {
  const g = globalThis as NodeGlobals;
  if (g.process?.versions?.node !== undefined) {
    try {
      const ws = (await import('ws')) as { default: unknown };
      return { ctor: ws.default as WebSocketConstructor, placement: 'header' };
    } catch {
      // not installed: fall through to the global one
    }
  }
  if (typeof g.WebSocket === 'function') {
    return { ctor: g.WebSocket as WebSocketConstructor, placement: 'subprotocol' };
  }
  throw new Error(
    'no WebSocket available: pass options.WebSocket, or install the ws package (Node 20)',
  );
}
