import type {
  Command,
  CommandResult,
  LocationInput,
  ProductInput,
  ResultSink,
} from '../engine/index.ts';
import {
  BaselinePosition,
  DUPLICATE,
  INSUFFICIENT,
  UNSUPPORTED,
} from './engine-baseline-position.ts';
import { PositionIndex } from './engine-position-index.ts';
import type { StockTarget } from './stock-target.ts';

class Hold {
  constructor(
    readonly position: BaselinePosition,
    readonly qty: number,
  ) {}
}

/**
 * Baseline A: the same stock check on plain Maps, no actors and no engine around it. Each
 * command is applied and answered inside `submit`, so the ratio to it is what the engine's
 * routing, validation, actor hand-off and result building cost.
 */
export class MapBaseline implements StockTarget {
  private readonly index = new PositionIndex<BaselinePosition>();
  private readonly reservations = new Map<string, Hold>();

  upsertLocations(list: readonly LocationInput[]): void {
    this.index.upsertLocations(list);
  }

  upsertProducts(list: readonly ProductInput[]): void {
    this.index.upsertProducts(list);
  }

  submit<T>(cmd: Command, sink: ResultSink<T>, tag: T): void {
    sink.deliver(this.apply(cmd), tag, cmd);
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  private apply(cmd: Command): CommandResult {
    switch (cmd.op) {
      case 'setOnHand': {
        let p = this.index.get(cmd.sku, cmd.location);
        if (p === undefined) {
          const refusal = this.index.refusal(cmd.sku, cmd.location);
          if (refusal !== null) return refusal;
          p = new BaselinePosition();
          this.index.add(cmd.sku, cmd.location, p);
        }
        return p.setOnHand(cmd);
      }
      case 'reserve': {
        if (cmd.location === undefined) return UNSUPPORTED;
        if (this.reservations.has(cmd.reservationId)) return DUPLICATE;
        const p = this.index.get(cmd.sku, cmd.location);
        if (p === undefined) return this.index.refusal(cmd.sku, cmd.location) ?? INSUFFICIENT;
        const result = p.reserve(cmd);
        if (result.ok) this.reservations.set(cmd.reservationId, new Hold(p, cmd.qty));
        return result;
      }
      default:
        return UNSUPPORTED;
    }
  }
}
