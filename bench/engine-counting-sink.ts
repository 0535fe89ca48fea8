import {
  ErrorCode,
  type CommandResult,
  type ErrorResult,
  type ResultSink,
} from '../engine/index.ts';

/**
 * The one result sink of a benchmark run, as the gateway has one per connection: counts granted,
 * refused and BUSY answers (BUSY is load shedding, never a reservation), and wakes the driver
 * once a given number of answers has arrived.
 */
export class CountingSink implements ResultSink<number> {
  ok = 0;
  refused = 0;
  busy = 0;
  answered = 0;
  /** The first refusal (other than BUSY), to tell what went wrong. */
  firstRefusal: ErrorResult | null = null;
  private awaited = -1;
  private wake: (() => void) | null = null;

  deliver(result: CommandResult): void {
    if (result.ok) this.ok++;
    else if (result.code === ErrorCode.BUSY) this.busy++;
    else {
      this.refused++;
      this.firstRefusal ??= result;
    }
    if (++this.answered === this.awaited) this.release();
  }

  /** Resolves once `total` answers have arrived since the sink was created. */
  whenAnswered(total: number): Promise<void> {
    if (this.answered >= total) return Promise.resolve();
    return new Promise((resolve) => {
      this.awaited = total;
      this.wake = resolve;
    });
  }

  private release(): void {
    const wake = this.wake;
    this.wake = null;
    this.awaited = -1;
    wake?.();
  }
}
