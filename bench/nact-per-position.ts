import { dispatch, spawn, start, stop, type Ref } from 'nact';
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

/** One command for one position actor, with the continuation its reply goes to. */
class PositionMessage {
  constructor(
    readonly cmd: Command,
    readonly sink: ResultSink,
    readonly tag: unknown,
  ) {}
}

/** An actor's state: its stock and its reservations (a map only once it has one). */
class ActorPosition extends BaselinePosition {
  holds: Map<string, number> | null = null;
}

function apply(state: ActorPosition, cmd: Command): CommandResult {
  switch (cmd.op) {
    case 'setOnHand':
      return state.setOnHand(cmd);
    case 'reserve': {
      const holds = (state.holds ??= new Map<string, number>());
      if (holds.has(cmd.reservationId)) return DUPLICATE;
      const result = state.reserve(cmd);
      if (result.ok) holds.set(cmd.reservationId, cmd.qty);
      return result;
    }
    default:
      return UNSUPPORTED;
  }
}

/** The one behaviour every position actor runs: apply, reply through the message, keep state. */
function positionActor(state: ActorPosition, msg: PositionMessage): ActorPosition {
  msg.sink.deliver(apply(state, msg.cmd), msg.tag, msg.cmd);
  return state;
}

// nact's Ref<T> is a phantom-typed empty class; the message type is all it carries.
// eslint-disable-next-line @typescript-eslint/no-generated-empty-object-type
type PositionRef = Ref<PositionMessage>;

/**
 * Baseline B, the design as first written: one nact actor per SKU-location, spawned on the
 * position's first feed, and one `dispatch` per command. The gateway-side routing keeps a ref
 * per position (nact then finds the actor again by its path on every dispatch).
 */
export class NactPerPosition implements StockTarget {
  private readonly system = start();
  private readonly index = new PositionIndex<PositionRef>();
  /** Time spent inside nact's spawn, out of the load time. */
  spawnMs = 0;

  upsertLocations(list: readonly LocationInput[]): void {
    this.index.upsertLocations(list);
  }

  upsertProducts(list: readonly ProductInput[]): void {
    this.index.upsertProducts(list);
  }

  submit<T>(cmd: Command, sink: ResultSink<T>, tag: T): void {
    const ref = this.route(cmd);
    if (ref === null) sink.deliver(this.refusal(cmd), tag, cmd);
    else dispatch(ref, new PositionMessage(cmd, sink as ResultSink, tag));
  }

  stop(): Promise<void> {
    stop(this.system);
    return Promise.resolve();
  }

  private route(cmd: Command): PositionRef | null {
    switch (cmd.op) {
      case 'setOnHand':
        return this.index.get(cmd.sku, cmd.location) ?? this.spawnFor(cmd.sku, cmd.location);
      case 'reserve':
        return cmd.location === undefined ? null : (this.index.get(cmd.sku, cmd.location) ?? null);
      default:
        return null;
    }
  }

  private spawnFor(sku: string, location: string): PositionRef | null {
    if (this.index.refusal(sku, location) !== null) return null;
    const t0 = performance.now();
    const ref = spawn(this.system, positionActor, `p${this.index.size}`, {
      initialState: new ActorPosition(),
    });
    this.spawnMs += performance.now() - t0;
    this.index.add(sku, location, ref);
    return ref;
  }

  private refusal(cmd: Command): CommandResult {
    switch (cmd.op) {
      case 'setOnHand':
        return this.index.refusal(cmd.sku, cmd.location) ?? UNSUPPORTED;
      case 'reserve':
        return cmd.location === undefined
          ? UNSUPPORTED
          : (this.index.refusal(cmd.sku, cmd.location) ?? INSUFFICIENT);
      default:
        return UNSUPPORTED;
    }
  }
}
