import { dispatch, spawn, start, stop, type Ref } from 'nact';
import type { Command, CommandResult, ResultSink } from './commands.ts';
import type { ReservationSlot } from './reservation-index.ts';
import type { SkuBook } from './sku-book.ts';

/** One routed command waiting for its actor's turn, and where its result goes. */
export class Envelope {
  sink: ResultSink<never> = UNBOUND;
  tag: unknown = null;

  constructor(
    readonly cmd: Command,
    readonly book: SkuBook,
    /** The reservation id's slot, for reserves (null otherwise). */
    readonly slot: ReservationSlot<SkuBook> | null,
  ) {}

  /** Sets where the result goes (once, before it is queued). */
  bind<T>(sink: ResultSink<T>, tag: T): this {
    this.sink = sink;
    this.tag = tag;
    return this;
  }

  deliver(result: CommandResult): void {
    (this.sink as ResultSink).deliver(result, this.tag, this.cmd);
  }
}

class Unbound implements ResultSink<never> {
  deliver(): void {
    throw new Error('an envelope was answered before it was bound to a sink');
  }
}
const UNBOUND = new Unbound();

/** Applies one batch in an actor's turn; must answer every envelope, even if a command throws. */
export type BatchRunner = (batch: readonly Envelope[]) => void;

type Batch = Envelope[];
// nact's Ref<T> is a phantom-typed empty class; the message type is all it carries.
// eslint-disable-next-line @typescript-eslint/no-generated-empty-object-type
type PartitionRef = Ref<Batch>;

/**
 * The actor layer. SKU books are owned by a fixed set of nact actors (partitions, by a hash of
 * the SKU); every command for a book runs inside its owner's turn, one at a time, so no state is
 * ever shared between turns of different actors and no lock exists anywhere.
 *
 * Commands are gathered per partition for the whole event-loop turn and handed over as one
 * message per partition: nact's per-message cost (a setImmediate turn, an async call and a fresh
 * context with a copy of the children map) is paid per partition per turn, not per command.
 * bench/engine.ts measures why (bench/results/engine.md): one nact actor per SKU-location, one
 * message per command, did 79k reservations/s spread over 1M actors and took 4 s and 1.4 KB per
 * actor to spawn them, against 155k/s, 1 s and 283 B per position for this layout.
 */
export class PartitionActors {
  private readonly system = start();
  private readonly refs: PartitionRef[] = [];
  private queues: Batch[];
  private readonly touched: number[] = [];
  private scheduled = false;
  private stopped = false;
  /** Envelopes accepted and not yet answered. */
  inflight = 0;
  /** Batches whose runner threw outside its per-command guard (a bug); each one is counted. */
  crashes = 0;
  private waiters: (() => void)[] = [];
  private readonly flushTurn = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(
    readonly count: number,
    run: BatchRunner,
    onCrash: (error: unknown, batch: readonly Envelope[]) => void,
  ) {
    this.queues = Array.from({ length: count }, () => []);
    for (let i = 0; i < count; i++) {
      this.refs.push(
        spawn(
          this.system,
          (state: null, batch: Batch) => {
            try {
              run(batch);
            } finally {
              this.done(batch.length);
            }
            return state;
          },
          `partition-${i}`,
          {
            initialState: null,
            onCrash: (batch, error, ctx) => {
              this.crashes++;
              onCrash(error, batch ?? []);
              return ctx.resume;
            },
          },
        ),
      );
    }
  }

  /** Queues an envelope for its partition's next turn. */
  submit(partition: number, envelope: Envelope): void {
    const queue = this.queues[partition] as Batch;
    if (queue.length === 0) this.touched.push(partition);
    queue.push(envelope);
    this.inflight++;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushTurn);
    }
  }

  private flush(): void {
    if (this.stopped) return;
    for (const partition of this.touched) {
      const batch = this.queues[partition] as Batch;
      this.queues[partition] = [];
      dispatch(this.refs[partition] as PartitionRef, batch);
    }
    this.touched.length = 0;
  }

  private done(n: number): void {
    this.inflight -= n;
    if (this.inflight === 0 && this.waiters.length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves when every accepted envelope has been answered. */
  idle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Answers what is still queued with `answer`, then stops the actors. */
  stop(answer: (envelope: Envelope) => CommandResult): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const partition of this.touched) {
      const batch = this.queues[partition] as Batch;
      this.queues[partition] = [];
      for (const e of batch) e.deliver(answer(e));
      this.done(batch.length);
    }
    this.touched.length = 0;
    stop(this.system);
  }
}
