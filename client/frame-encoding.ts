import { Packr, Unpackr } from 'msgpackr';

/** How frames are written: msgpack binary frames or JSON text frames (same shapes). */
export type Encoding = 'msgpack' | 'json';

/** A message from the server: an object with an `op`. */
export type ServerMessage = Record<string, unknown> & { readonly op: string };

/** Drops keys whose value is undefined (msgpack would write them as nil). */
function compact(message: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(message)) if (v !== undefined) out[k] = v;
  return out;
}

export class FrameEncoding {
  private readonly packr = new Packr({ useRecords: false, variableMapSize: true });
  private readonly unpackr = new Unpackr({
    useRecords: false,
    mapsAsObjects: true,
    int64AsType: 'number',
  });

  constructor(readonly encoding: Encoding) {}

  encode(message: Record<string, unknown>): string | Uint8Array {
    const m = compact(message);
    if (Array.isArray(m.ops)) {
      m.ops = (m.ops as Record<string, unknown>[]).map(compact);
    }
    return this.encoding === 'msgpack' ? this.packr.pack(m) : JSON.stringify(m);
  }

  /** A frame's message, or null when it is not an object with an op. */
  decode(data: unknown): ServerMessage | null {
    let value: unknown;
    try {
      if (typeof data === 'string') value = JSON.parse(data);
      else if (data instanceof ArrayBuffer) value = this.unpackr.unpack(new Uint8Array(data));
      else if (ArrayBuffer.isView(data)) {
        value = this.unpackr.unpack(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      } else return null;
    } catch {
      return null;
    }
    if (typeof value !== 'object' || value === null) return null;
    const op = (value as { op?: unknown }).op;
    return typeof op === 'string' ? (value as ServerMessage) : null;
  }
}
