/**
 * One mailbox per order: the order's steps run one at a time, in arrival order, while steps of
 * other orders interleave at their awaits. This is the order "actor": its state is only touched
 * inside its own steps, so no step ever sees another half-done.
 *
 * Why not a nact actor per order: nact runs each message in its own setImmediate turn with a
 * fresh context and costs about 1.3 KB per idle actor (measured for the engine, see
 * bench/results/engine.md); an order step awaits the stock engine and the journal anyway, so a
 * promise chain per busy order gives the same one-at-a-time guarantee for a few dozen bytes,
 * and an idle order has no mailbox at all.
 */
class Step {
  next: Step | null = null;

  constructor(
    readonly run: () => Promise<unknown>,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

class Box {
  head: Step | null = null;
  tail: Step | null = null;
}

export class OrderMailboxes {
  private readonly boxes = new Map<string, Box>();
  private busy = 0;
  private idleWaiters: (() => void)[] = [];

  /** Runs `step` after every step queued before it for the same order. */
  run<T>(orderId: string, step: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const s = new Step(step, resolve as (value: unknown) => void, reject);
      let box = this.boxes.get(orderId);
      if (box !== undefined) {
        (box.tail as Step).next = s;
        box.tail = s;
        return;
      }
      box = new Box();
      box.head = s;
      box.tail = s;
      this.boxes.set(orderId, box);
      this.busy++;
      void this.drain(orderId, box);
    });
  }

  /** Orders with a step running or queued. */
  get active(): number {
    return this.busy;
  }

  /** Resolves when no step is running or queued. */
  idle(): Promise<void> {
    if (this.busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(orderId: string, box: Box): Promise<void> {
    for (let s = box.head; s !== null; s = box.head) {
      try {
        s.resolve(await s.run());
      } catch (error) {
        s.reject(error);
      }
      box.head = s.next;
    }
    this.boxes.delete(orderId);
    this.busy--;
    if (this.busy === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
