import type {
  CommandResult,
  ResultSink,
  ErrorResult,
  OkResult,
  PositionView,
  ReservationView,
} from './commands.ts';
import type { ErrorCode, Reason } from './errors.ts';

/** Result constructors: every result of a kind is built here, so each keeps one object shape. */
export function ok(
  applied: boolean,
  position: PositionView | null,
  reservation: ReservationView | null,
  duplicate = false,
): OkResult {
  return { ok: true, applied, duplicate, position, reservation };
}

export function fail(
  code: ErrorCode,
  reason: Reason | null,
  message: string,
  available: number | null = null,
): ErrorResult {
  return { ok: false, code, reason, message, available };
}

export function asDuplicate(result: CommandResult): CommandResult {
  return result.ok ? ok(false, result.position, result.reservation, true) : result;
}

class PromiseSink implements ResultSink<(r: CommandResult) => void> {
  deliver(result: CommandResult, resolve: (r: CommandResult) => void): void {
    resolve(result);
  }
}

/** The sink of `execute`: the tag is the promise's resolve (one sink for every engine face). */
export const PROMISE_SINK: ResultSink<(r: CommandResult) => void> = new PromiseSink();
