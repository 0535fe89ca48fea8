import type {
  Command,
  CommandResult,
  LocationQty,
  ReservationState,
  ReservationView,
} from '../../engine/index.ts';

/**
 * A forwarded command's answer as it crosses between workers. Most answers are a reservation
 * (reserve, release, confirm granted): the asking worker already holds the command, so the
 * answer leaves out what the command says (the reservation id, and the SKU and channel when the
 * command names them) and travels as a flat array of numbers and short strings: less to pack,
 * and no id strings for the asking side to decode and collect (the profile of two workers showed
 * result packing and GC as a third of the forwarding cost). Every other answer goes whole.
 */

const RESERVATION = 1;
const STATES: readonly ReservationState[] = ['held', 'released', 'expired', 'confirmed'];

type Compact = readonly (string | number | boolean | null)[];

function idOf(cmd: Command): string | null {
  return 'reservationId' in cmd ? cmd.reservationId : null;
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
