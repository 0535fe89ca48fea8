import type { Command } from '../engine/index.ts';
import type { CountingSink } from './engine-counting-sink.ts';
import type { StockTarget } from './stock-target.ts';

/** How commands are fed, the way the gateway will: a chunk per event-loop turn, bounded. */
export interface DriveOptions {
  /** Commands submitted per event-loop turn at most. */
  readonly chunk: number;
  /** Commands submitted and not yet answered at most. */
  readonly maxInflight: number;
}

/**
 * Feeds pre-built commands to a target, `chunk` per event-loop turn (setImmediate between
 * chunks), never more than `maxInflight` unanswered, all answers going to one sink. Resolves
 * with the milliseconds from the first submit to the last answer.
 */
export async function drive(
  target: StockTarget,
  commands: readonly Command[],
  sink: CountingSink,
  options: DriveOptions,
): Promise<number> {
  const feeder = new Feeder(target, commands, sink, options);
  const start = performance.now();
  feeder.turn();
  await sink.whenAnswered(feeder.answeredBefore + commands.length);
  return performance.now() - start;
}

class Feeder {
  readonly answeredBefore: number;
  private next = 0;

  constructor(
    private readonly target: StockTarget,
    private readonly commands: readonly Command[],
    private readonly sink: CountingSink,
    private readonly options: DriveOptions,
  ) {
    this.answeredBefore = sink.answered;
  }

  readonly turn = (): void => {
    const { commands, sink, target } = this;
    const room = this.options.maxInflight - (this.next - (sink.answered - this.answeredBefore));
    const end = Math.min(commands.length, this.next + Math.min(this.options.chunk, room));
    for (let i = this.next; i < end; i++) {
      target.submit(commands[i] as Command, sink, i);
    }
    this.next = end;
    if (this.next < commands.length) setImmediate(this.turn);
  };
}
