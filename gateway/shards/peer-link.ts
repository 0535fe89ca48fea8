import type { MessagePort } from 'node:worker_threads';
import { Packr, Unpackr } from 'msgpackr';
import {
  ByteReader,
  type Command,
  type CommandResult,
  type ResultSink,
} from '../../engine/index.ts';
import { packAnswer, readAnswer, writeAnswer } from './answer-codec.ts';
import { ItemTag, PeerWriter, readCommand, writeCommand } from './peer-codec.ts';

// Records: a command's or a result's keys are written once per message, not once per object.
const packr = new Packr({ useRecords: true });
const unpackr = new Unpackr({ useRecords: true, mapsAsObjects: true });

/**
 * One worker's end of the channel to another worker (docs/scaling.md, "Forwarding"): requests,
 * their answers and one-way pushes, gathered per event-loop turn and posted as one message, so
 * a MessagePort's cost per message (about 7.5 µs, bench:forwarding) is shared by every command of
 * the turn. Messages on one port arrive in the order they were posted, and a message's items are
 * served in the order they were sent: an answer, and the deltas pushed after it, keep their order.
 *
 * A message is one transferred buffer: u32 length of the binary part, the binary part, then the
 * msgpack part. The binary part is the turn's items in order (peer-codec.ts): forwarded reserve,
 * release and confirm commands and their answers in a fixed layout, and for every other item a
 * Packed tag standing for the next triple of the msgpack part, a flat array
 * [kind, id, payload, ...]; `kind` is a request name, ANSWER, or a push name with id 0.
 */
const ANSWER = '=';
/** The request kind of a command sent as msgpack (ShardRouter serves it). */
const COMMAND = 'cmd';

/** What the other side asked for: answer with `reply(value)` exactly once (pushes: never). */
export type PeerServer = (
  kind: string,
  payload: unknown,
  reply: ((value: unknown) => void) | null,
) => void;

/**
 * Serves a command that came in binary: the link is the ResultSink to submit it with, `id` its
 * tag (answers go back in binary when they fit, as msgpack otherwise).
 */
export type CommandServer = (cmd: Command, link: PeerLink, id: number) => void;

/** Someone waiting for an answer. */
export interface PeerWaiter {
  answered(value: unknown): void;
}

/** Someone waiting for a command's answer: a binary answer is rebuilt with `cmd`. */
export interface CommandWaiter extends PeerWaiter {
  readonly cmd: Command;
  /** The engine's result, rebuilt from a binary answer. */
  settled(result: CommandResult): void;
}

/** Stands in for a waiter no longer there, so its answer's bytes are still read past. */
const NO_COMMAND: Command = { op: 'release', reservationId: '' };

export class PeerLink implements ResultSink<number> {
  /** This turn's items in order, in binary or as Packed tags (see above). */
  private readonly writer = new PeerWriter();
  /** The msgpack triples the Packed tags stand for. */
  private packed: unknown[] = [];
  private items = 0;
  private scheduled = false;
  private nextId = 1;
  private readonly waiting = new Map<number, PeerWaiter>();
  private closed = false;
  /** Messages and items sent, for the forwarding metrics. */
  messagesSent = 0;
  itemsSent = 0;

  constructor(
    readonly peer: number,
    private readonly port: MessagePort,
    private readonly server: PeerServer,
    private readonly commands: CommandServer,
  ) {
    port.on('message', (bytes: Uint8Array) => {
      this.receive(bytes);
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

  /**
   * Sends a command to the peer's CommandServer; the waiter gets the engine's result there (by
   * `settled` from a binary answer, or `answered` with packAnswer's value from msgpack).
   */
  requestCommand(waiter: CommandWaiter): void {
    const id = this.nextId++;
    this.waiting.set(id, waiter);
    if (this.closed) return;
    if (writeCommand(this.writer, id, waiter.cmd)) this.added();
    else this.enqueue(COMMAND, id, waiter.cmd);
  }

  /** A command's result, back to the peer that sent it (as request `id`). */
  deliver(result: CommandResult, id: number, cmd: Command): void {
    if (this.closed) return;
    if (writeAnswer(this.writer, id, result, cmd)) this.added();
    else this.enqueue(ANSWER, id, packAnswer(result, cmd));
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
    this.writer.u8(ItemTag.Packed);
    this.packed.push(kind, id, payload);
    this.added();
  }

  /** One more item in this turn's message, which goes when the turn ends. */
  private added(): void {
    this.items++;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.items === 0 || this.closed) return;
    const w = this.writer;
    const packed = this.packed.length === 0 ? null : packr.pack(this.packed);
    // One buffer of its own (msgpackr's is shared, the writer's reused), which is transferred.
    const own = Buffer.allocUnsafeSlow(4 + w.at + (packed === null ? 0 : packed.length));
    own.writeUInt32LE(w.at, 0);
    w.copyTo(own, 4);
    if (packed !== null) own.set(packed, 4 + w.at);
    this.messagesSent++;
    this.itemsSent += this.items;
    w.at = 0;
    this.items = 0;
    if (packed !== null) this.packed = [];
    this.port.postMessage(own, [own.buffer]);
  };

  private receive(bytes: Uint8Array): void {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const end = 4 + buf.readUInt32LE(0);
    const packed =
      end < buf.length ? (unpackr.unpack(buf.subarray(end)) as unknown[]) : ([] as unknown[]);
    let next = 0;
    const r = new ByteReader(buf, 4, 'peer message cut short');
    while (r.at < end) {
      const tag = r.u8();
      if (tag === ItemTag.Packed) {
        this.receivePacked(packed[next] as string, packed[next + 1] as number, packed[next + 2]);
        next += 3;
        continue;
      }
      const id = r.f64();
      if (tag === ItemTag.Reservation || tag === ItemTag.Refusal) {
        const waiter = this.waiting.get(id) as CommandWaiter | undefined;
        const result = readAnswer(r, tag, waiter?.cmd ?? NO_COMMAND);
        if (waiter === undefined) continue;
        this.waiting.delete(id);
        waiter.settled(result);
      } else {
        this.commands(readCommand(r, tag), this, id);
      }
    }
  }

  private receivePacked(kind: string, id: number, payload: unknown): void {
    if (kind === ANSWER) {
      const waiter = this.waiting.get(id);
      if (waiter === undefined) return;
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
