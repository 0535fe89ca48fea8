import { ErrorCode, fail, Reason, type Command } from '../engine/index.ts';
import { recordStep, refuse, repeated, type Decided } from './decision.ts';
import type { Order } from './order-state.ts';
import { digest, type HoldResolution } from './return-input.ts';
import { held } from './return-state.ts';

export interface HoldCommand {
  readonly returnId: string;
  readonly resolution: HoldResolution;
  /** The caller's location, when the caller is bound to one; null: any. */
  readonly callerLocation: string | null;
}

/**
 * What becomes of units a receipt held apart, at the location holding them: `return_to_vendor`
 * units are `shipped_to_vendor` (gone), `refurbish` units are restocked (into onHand there, by an
 * adjustment whose id derives from the resolution) or written off. Idempotent under the
 * resolution id.
 */
export function decideReturnHold(order: Order | null, command: HoldCommand): Decided {
  const { returnId, resolution, callerLocation } = command;
  const r = order?.findReturn(returnId);
  if (order === null || r === undefined) {
    return refuse(
      fail(ErrorCode.NOT_FOUND, Reason.UNKNOWN_RETURN, `unknown return ${returnId}`),
      false,
    );
  }
  if (callerLocation !== null && r.location !== callerLocation) {
    return refuse(
      fail(
        ErrorCode.FORBIDDEN,
        Reason.OTHER_LOCATION,
        `return ${returnId} is not held at ${callerLocation}`,
      ),
      false,
    );
  }
  const fingerprint = digest(resolution);
  const seen = r.resolutions.find((x) => x.id === resolution.resolutionId);
  if (seen !== undefined) {
    return repeated(seen.fingerprint, fingerprint, `resolution ${resolution.resolutionId}`, true);
  }
  const { from, to, qty, lineId } = resolution;
  const fits =
    from === 'return_to_vendor' ? to === 'shipped_to_vendor' : to !== 'shipped_to_vendor';
  if (!fits) {
    return refuse(
      fail(
        ErrorCode.BAD_REQUEST,
        null,
        from === 'return_to_vendor'
          ? 'return_to_vendor units can only be shipped_to_vendor'
          : 'refurbish units are restocked or written off (write_off)',
      ),
      true,
    );
  }
  const line = r.lines.find((l) => l.lineId === lineId);
  if (line === undefined) {
    return refuse(
      fail(ErrorCode.NOT_FOUND, null, `return ${returnId} has no line ${lineId}`),
      true,
    );
  }
  const holding = held(line, from);
  if (qty > holding || r.location === null) {
    return refuse(
      fail(
        ErrorCode.CONFLICT,
        Reason.ORDER_STATE,
        `line ${lineId} of return ${returnId} holds ${String(holding)} ${from} units`,
      ),
      true,
    );
  }
  const stock: Command[] =
    to === 'restock'
      ? [
          {
            op: 'adjust',
            adjustmentId: `rma:${returnId}:h:${resolution.resolutionId}`,
            sku: line.sku,
            location: r.location,
            delta: qty,
          },
        ]
      : [];
  return recordStep(
    {
      kind: 'return_hold_resolved',
      returnId,
      resolutionId: resolution.resolutionId,
      fingerprint,
      lineId,
      from,
      to,
      qty,
    },
    [],
    stock,
  );
}
