import type { MessagePort } from 'node:worker_threads';
import { Packr, Unpackr } from 'msgpackr';

// Records: a command's or a result's keys are written once per message, not once per object.
const packr = new Packr({ useRecords: true });
const unpackr = new Unpackr({ useRecords: true, mapsAsObjects: true });

/**
 * One worker's end of the channel to another worker (docs/scaling.md, "Forwarding"): requests,
 * their answers and one-way pushes, gathered per event-loop turn and posted as one message, so
 * a MessagePort's cost per message (about 7.5 µs, bench:forwarding) is shared by every command of
 * the turn. Messages on one port arrive in the order they were posted: an answer, and the
 * deltas pushed after it, keep their order.
 *
 * A message is a flat array of triples: [kind, id, payload, kind, id, payload, ...]. `kind` is a
 * request name, ANSWER, or a push name with id 0.
 */
const ANSWER = '=';

/** What the other side asked for: answer with `reply(value)` exactly once (pushes: never). */
export type PeerServer = (
  kind: string,
  payload: unknown,
  reply: ((value: unknown) => void) | null,
) => void;

/** Someone waiting for an answer. */
export interface PeerWaiter {
  answered(value: unknown): void;
}

export class PeerLink {
  private out: unknown[] = [];
  private scheduled = false;
  private nextId = 1;
  private readonly waiting = new Map<number, PeerWaiter>();
  private closed = false;
  /** Messages and triples sent, for the forwarding metrics. */
  messagesSent = 0;
  itemsSent = 0;

  constructor(
    readonly peer: number,
    private readonly port: MessagePort,
    private readonly server: PeerServer,
  ) {
    port.on('message', (bytes: Uint8Array) => {
      this.receive(unpackr.unpack(bytes) as unknown[]);
    });
    port.on('close', () => {
      this.closed = true;
    });
  }

  /** Asks the peer; `waiter.answered` gets its answer (in a later turn). */
  request(kind: string, payload: unknown, waiter: PeerWaiter): void {
    const id = this.nextId++;
    this.waiting.set(id, waiter);
    this.enqueue(kind, id, payload);
  }

  /** Asks the peer, as a promise. */
  ask<T>(kind: string, payload: unknown): Promise<T> {
    return new Promise<T>((resolve) => {
      this.request(kind, payload, {
        answered: (v) => {
          resolve(v as T);
        },
      });
    });
  }

  /** Tells the peer, with no answer. */
  push(kind: string, payload: unknown): void {
    this.enqueue(kind, 0, payload);
  }

  /** Requests sent and not yet answered. */
  get pending(): number {
    return this.waiting.size;
  }

  close(): void {
    this.flush();
    this.closed = true;
    this.port.close();
  }

  private enqueue(kind: string, id: number, payload: unknown): void {
    if (this.closed) return;
    this.out.push(kind, id, payload);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.out.length === 0 || this.closed) return;
    const batch = this.out;
    this.out = [];
    this.messagesSent++;
    this.itemsSent += batch.length / 3;
    const bytes = packr.pack(batch);
    // A view of msgpackr's shared buffer: copied into a buffer of its own, which is transferred.
    const own = new Uint8Array(bytes.length);
    own.set(bytes);
    this.port.postMessage(own, [own.buffer]);
  };

  private receive(batch: unknown[]): void {
    for (let i = 0; i < batch.length; i += 3) {
      const kind = batch[i] as string;
      const id = batch[i + 1] as number;
      const payload = batch[i + 2];
      if (kind === ANSWER) {
        const waiter = this.waiting.get(id);
        if (waiter === undefined) continue;
        this.waiting.delete(id);
        waiter.answered(payload);
      } else {
        this.server(
          kind,
          payload,
          id === 0
            ? null
            : (value) => {
                this.enqueue(ANSWER, id, value);
              },
        );
      }
    }
  }
}
