/** What to do with a pushed message, by its messageId. */
export type InboxVerdict =
  /** Never seen: hand it to the handler. */
  | 'handle'
  /** Handled before: the server did not get the ack (or it came too late), so ack again. */
  | 'ack'
  /** The handler is still working on it: its ack follows when it resolves. */
  | 'wait';

/**
 * Fulfilment pushes are delivered at least once: a push not acknowledged in time, or whose
 * socket closed first, comes again with the same messageId. The inbox remembers the ids it has
 * seen (the most recent `capacity` of those handled), so a repeat never reaches the handler twice.
 */
export class FulfilmentInbox {
  private readonly running = new Set<string>();
  /** Handled ids, oldest first (a Map keeps insertion order). */
  private readonly handled = new Map<string, true>();

  constructor(private readonly capacity = 10_000) {}

  receive(messageId: string): InboxVerdict {
    if (this.handled.has(messageId)) return 'ack';
    if (this.running.has(messageId)) return 'wait';
    this.running.add(messageId);
    return 'handle';
  }

  /** The handler resolved: repeats are acknowledged without it from now on. */
  done(messageId: string): void {
    this.running.delete(messageId);
    this.handled.set(messageId, true);
    if (this.handled.size > this.capacity) {
      const oldest = this.handled.keys().next();
      if (oldest.done !== true) this.handled.delete(oldest.value);
    }
  }

  /** The handler failed: no ack was sent, and the repeat goes to the handler again. */
  failed(messageId: string): void {
    this.running.delete(messageId);
  }
}
