import type {
  ByteReader,
  Command,
  CommandResult,
  ErrorCode,
  ErrorResult,
  LocationQty,
  Reason,
  ReservationState,
  ReservationView,
} from '../../engine/index.ts';
import { ItemTag, type PeerWriter } from './peer-codec.ts';

/**
 * A forwarded command's answer as it crosses between workers. Most answers are a reservation
 * (reserve, release, confirm granted): the asking worker already holds the command, so the
 * answer leaves out what the command says (the reservation id, and the SKU and channel when the
 * command names them) and travels as a flat array of numbers and short strings: less to pack,
 * and no id strings for the asking side to decode and collect (the profile of two workers showed
 * result packing and GC as a third of the forwarding cost). Every other answer goes whole.
 *
 * The answers of the commands the link writes in binary (peer-codec.ts) come back in binary too
 * (writeAnswer, readAnswer): a reservation as above, a refusal field by field. packAnswer and
 * unpackAnswer stay for the commands sent as msgpack.
 */

const RESERVATION = 1;
const STATES: readonly ReservationState[] = ['held', 'released', 'expired', 'confirmed'];

type Compact = readonly (string | number | boolean | null)[];

function idOf(cmd: Command): string | null {
  return 'reservationId' in cmd ? cmd.reservationId : null;
}

/** The location a reserve names, if any. */
function locationOf(cmd: Command): string | undefined {
  return cmd.op === 'reserve' ? cmd.location : undefined;
}

/** The answer to send back for `cmd`. */
export function packAnswer(result: CommandResult, cmd: Command): CommandResult | Compact {
  if (!result.ok || result.position !== null || result.reservation === null) return result;
  const r = result.reservation;
  if (r.reservationId !== idOf(cmd)) return result;
  const out: (string | number | boolean | null)[] = [
    RESERVATION,
    result.applied,
    result.duplicate,
    r.qty,
    STATES.indexOf(r.state),
    r.expiresAt,
    r.orderId,
    'sku' in cmd && cmd.sku === r.sku ? null : r.sku,
    'channel' in cmd && cmd.channel === r.channel ? null : r.channel,
  ];
  for (const line of r.lines) out.push(line.location, line.qty);
  return out;
}

/** The answer as the engine gave it, from what packAnswer sent. */
export function unpackAnswer(value: unknown, cmd: Command): CommandResult {
  if (!Array.isArray(value) || value[0] !== RESERVATION) return value as CommandResult;
  const v = value as Compact;
  const lines: LocationQty[] = [];
  for (let i = 9; i < v.length; i += 2) {
    lines.push({ location: v[i] as string, qty: v[i + 1] as number });
  }
  const reservation: ReservationView = {
    reservationId: idOf(cmd) as string,
    sku: (v[7] as string | null) ?? (cmd as { sku: string }).sku,
    channel: (v[8] as string | null) ?? (cmd as { channel: string }).channel,
    qty: v[3] as number,
    state: STATES[v[4] as number] as ReservationState,
    lines,
    expiresAt: v[5] as number,
    orderId: v[6] as string | null,
  };
  return {
    ok: true,
    applied: v[1] as boolean,
    duplicate: v[2] as boolean,
    position: null,
    reservation,
  };
}

// ---- binary answers (peer-codec.ts) ------------------------------------------------------------

/**
 * Writes the answer to request `id` (for `cmd`) when it is a reservation answer or a refusal the
 * layout holds exactly; false (nothing written) otherwise, and it goes as msgpack.
 */
export function writeAnswer(
  w: PeerWriter,
  id: number,
  result: CommandResult,
  cmd: Command,
): boolean {
  const mark = w.at;
  const done = result.ok ? writeReservation(w, id, result, cmd) : writeRefusal(w, id, result);
  if (!done) w.at = mark;
  return done;
}

/**
 * Reservation: f64 id, u8 flags (1 applied, 2 duplicate, 4 orderId, 8 SKU, 16 channel: the last
 * two only when the command does not say them; 32 one line at the command's location), u8 state,
 * f64 qty, f64 expiresAt, the strings flagged, then the lines: with flag 32 the line's f64 qty
 * alone (a reserve at a location, nearly every forwarded one), else u32 line count, then location
 * and f64 qty per line.
 */
function writeReservation(
  w: PeerWriter,
  id: number,
  result: CommandResult & { ok: true },
  cmd: Command,
): boolean {
  const r = result.reservation;
  if (result.position !== null || r === null || r.reservationId !== idOf(cmd)) return false;
  const state = STATES.indexOf(r.state);
  if (state < 0) return false;
  const sku = 'sku' in cmd && cmd.sku === r.sku ? undefined : r.sku;
  const channel = 'channel' in cmd && cmd.channel === r.channel ? undefined : r.channel;
  const orderId = r.orderId ?? undefined;
  const atCommandsLocation = r.lines.length === 1 && r.lines[0]?.location === locationOf(cmd);
  w.u8(ItemTag.Reservation);
  w.f64(id);
  w.u8(
    (result.applied ? 1 : 0) |
      (result.duplicate ? 2 : 0) |
      (orderId !== undefined ? 4 : 0) |
      (sku !== undefined ? 8 : 0) |
      (channel !== undefined ? 16 : 0) |
      (atCommandsLocation ? 32 : 0),
  );
  w.u8(state);
  w.f64(r.qty);
  w.f64(r.expiresAt);
  if (!w.optStr(orderId) || !w.optStr(sku) || !w.optStr(channel)) return false;
  if (atCommandsLocation) {
    w.f64((r.lines[0] as LocationQty).qty);
    return true;
  }
  w.u32(r.lines.length);
  for (const line of r.lines) {
    if (!w.str(line.location)) return false;
    w.f64(line.qty);
  }
  return true;
}

/** Refusal: f64 id, u8 flags (1 reason, 2 available), code, reason, message, f64 available. */
function writeRefusal(w: PeerWriter, id: number, result: ErrorResult): boolean {
  if (result.available !== null && typeof result.available !== 'number') return false;
  w.u8(ItemTag.Refusal);
  w.f64(id);
  w.u8((result.reason !== null ? 1 : 0) | (result.available !== null ? 2 : 0));
  if (!w.str(result.code) || !w.optStr(result.reason ?? undefined) || !w.str(result.message)) {
    return false;
  }
  if (result.available !== null) w.f64(result.available);
  return true;
}

/** The answer of an item tagged Reservation or Refusal (its id already read) to `cmd`. */
export function readAnswer(r: ByteReader, tag: number, cmd: Command): CommandResult {
  const flags = r.u8();
  if (tag === ItemTag.Refusal) {
    const code = r.name() as ErrorCode;
    const reason = (flags & 1) !== 0 ? (r.name() as Reason) : null;
    const message = r.str();
    const available = (flags & 2) !== 0 ? r.f64() : null;
    return { ok: false, code, reason, message, available };
  }
  const state = STATES[r.u8()] as ReservationState;
  const qty = r.f64();
  const expiresAt = r.f64();
  const orderId = (flags & 4) !== 0 ? r.str() : null;
  const sku = (flags & 8) !== 0 ? r.str() : (cmd as { sku: string }).sku;
  const channel = (flags & 16) !== 0 ? r.name() : (cmd as { channel: string }).channel;
  const lines: LocationQty[] = [];
  if ((flags & 32) !== 0) {
    lines.push({ location: locationOf(cmd) as string, qty: r.f64() });
  } else {
    const count = r.u32();
    for (let i = 0; i < count; i++) lines.push({ location: r.name(), qty: r.f64() });
  }
  const reservation: ReservationView = {
    reservationId: idOf(cmd) as string,
    sku,
    channel,
    qty,
    state,
    lines,
    expiresAt,
    orderId,
  };
  return {
    ok: true,
    applied: (flags & 1) !== 0,
    duplicate: (flags & 2) !== 0,
    position: null,
    reservation,
  };
}
