import WebSocket from 'ws';
import type { WebSocketLike } from '../../client/index.ts';

/**
 * The `ws` WebSocket behind only the standard surface, as a browser's or Node 22's global one
 * looks to the client: no headers, no upgrade status.
 */
export class StandardOnly implements WebSocketLike {
  private readonly ws: WebSocket;
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;

  constructor(url: string, protocols?: string | string[]) {
    this.ws = new WebSocket(url, protocols);
    this.ws.binaryType = 'arraybuffer';
    this.ws.onopen = (e) => this.onopen?.(e);
    this.ws.onmessage = (e) => this.onmessage?.({ data: e.data });
    this.ws.onclose = (e) => this.onclose?.({ code: e.code, reason: e.reason });
    this.ws.onerror = (e) => this.onerror?.(e);
  }

  get binaryType(): string {
    return this.ws.binaryType;
  }
  set binaryType(_value: string) {
    // always arraybuffer
  }
  get readyState(): number {
    return this.ws.readyState;
  }
  send(data: string | Uint8Array): void {
    this.ws.send(data);
  }
  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }
}
