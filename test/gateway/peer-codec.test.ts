import { MessageChannel } from 'node:worker_threads';
import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ByteReader,
  type Command,
  type CommandResult,
  type ErrorResult,
  type OkResult,
  type ReservationState,
} from '../../engine/index.ts';
import {
  packAnswer,
  readAnswer,
  unpackAnswer,
  writeAnswer,
} from '../../gateway/shards/answer-codec.ts';
import { ItemTag, PeerWriter, readCommand, writeCommand } from '../../gateway/shards/peer-codec.ts';
import { PeerLink, type CommandWaiter } from '../../gateway/shards/peer-link.ts';

// Forwarded reserve, release and confirm commands and their answers cross between workers in a
// binary layout (peer-codec.ts). Whatever a caller submits, the owner must see the very command
// it saw when every item went as msgpack, and the asking side the very result it rebuilt then:
// what the layout cannot hold is declined (and goes as msgpack).

/** What an item became through the msgpack of the link before (peer-link.ts's options). */
const packr = new Packr({ useRecords: true });
const unpackr = new Unpackr({ useRecords: true, mapsAsObjects: true });
function viaMsgpack<T>(value: T): T {
  return (unpackr.unpack(packr.pack([value])) as T[])[0] as T;
}

/** Strings of every kind: ASCII, any UTF-16 (lone surrogates included), up to and over 65,535
 * bytes. */
const LONG_ASCII = 'a'.repeat(65_535);
const TOO_LONG_ASCII = 'b'.repeat(65_536);
const LONG_UTF8 = 'é'.repeat(32_767); // 65,534 bytes
const TOO_LONG_UTF8 = '€'.repeat(21_846); // 65,538 bytes
const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom(LONG_ASCII, TOO_LONG_ASCII, LONG_UTF8, TOO_LONG_UTF8) },
);
/** Every double, the extremes, -0, NaN and the infinities among them. */
const number = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    Number.MIN_VALUE,
    -0,
  ),
);
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

const reserve = fc.record({
  op: fc.constant('reserve' as const),
  reservationId: text,
  channel: text,
  sku: text,
  qty: number,
  location: opt(text),
  ttlMs: opt(number),
});
const release = fc.record({
  op: fc.constant('release' as const),
  reservationId: text,
  channel: opt(text),
});
const confirm = fc.record({
  op: fc.constant('confirm' as const),
  reservationId: text,
  orderId: text,
  channel: opt(text),
});
const hotCommand: fc.Arbitrary<Command> = fc.oneof(reserve, release, confirm);

/** Whether the layout holds `s`: at most 65,535 bytes of UTF-8. */
function fits(s: string | undefined): boolean {
  return s === undefined || Buffer.byteLength(s, 'utf8') <= 0xffff;
}

function commandFits(cmd: Command): boolean {
  return Object.values(cmd).every((v) => typeof v !== 'string' || fits(v));
}

/** What the writer holds, as the receiving side gets it. */
function bytesOf(w: PeerWriter): Buffer {
  const out = Buffer.alloc(w.at);
  w.copyTo(out, 0);
  return out;
}

describe('forwarded commands in binary', () => {
  it('arrive as msgpack delivered them, in order, or are declined with nothing written', () => {
    fc.assert(
      fc.property(fc.array(hotCommand, { minLength: 1, maxLength: 6 }), (cmds) => {
        const w = new PeerWriter();
        const sent: { id: number; cmd: Command }[] = [];
        cmds.forEach((cmd, id) => {
          const before = w.at;
          const written = writeCommand(w, id, cmd);
          expect(written).toBe(commandFits(cmd));
          if (written) sent.push({ id, cmd });
          else expect(w.at).toBe(before);
        });
        const r = new ByteReader(bytesOf(w), 0, 'peer message cut short');
        for (const { id, cmd } of sent) {
          const tag = r.u8();
          expect(tag).toBe(
            ItemTag[
              cmd.op === 'reserve' ? 'Reserve' : cmd.op === 'release' ? 'Release' : 'Confirm'
            ],
          );
          expect(r.f64()).toBe(id);
          // toEqual: -0 is not 0, NaN is NaN; absent fields come back undefined.
          expect(readCommand(r, tag)).toEqual(viaMsgpack(cmd));
        }
        expect(r.at).toBe(w.at);
      }),
      { numRuns: 400 },
    );
  });

  it('declines every other op, and fields of unexpected types (the engine refuses those)', () => {
    const w = new PeerWriter();
    const declined: unknown[] = [
      {
        op: 'allocate',
        allocationId: 'a',
        orderId: 'o',
        channel: 'web',
        sku: 's',
        location: 'l',
        qty: 1,
      },
      { op: 'setOnHand', sku: 's', location: 'l', onHand: 1, asOf: 1 },
      { op: 'expire', reservationId: 'r', at: 1 },
      { op: 'reserve', reservationId: 'r', channel: 'web', sku: 's', qty: '1' },
      { op: 'reserve', reservationId: 7, channel: 'web', sku: 's', qty: 1 },
      { op: 'reserve', reservationId: 'r', channel: 'web', sku: 's', qty: 1, location: null },
      { op: 'reserve', reservationId: 'r', channel: 'web', sku: 's', qty: 1, ttlMs: '5' },
      { op: 'reserve', reservationId: 'r', channel: 'web', sku: 's', qty: 1, lines: [['l', 1]] },
      { op: 'release', reservationId: null },
      { op: 'release', reservationId: 'r', channel: 3 },
      { op: 'confirm', reservationId: 'r' },
    ];
    for (const cmd of declined) {
      expect(writeCommand(w, 1, cmd as Command), JSON.stringify(cmd)).toBe(false);
      expect(w.at).toBe(0);
    }
  });
});

const state = fc.constantFrom<ReservationState>('held', 'released', 'expired', 'confirmed');

/** A command and the engine's answer to it, granted (the reservation) or refused. */
const answered = fc
  .record({
    cmd: hotCommand,
    otherSku: opt(text),
    otherChannel: opt(text),
    qty: number,
    state,
    lines: fc.array(fc.record({ location: text, qty: number }), { maxLength: 4 }),
    /** One line at the reserve's own location, as a reserve at a location is granted. */
    atLocation: fc.option(number, { nil: undefined }),
    expiresAt: number,
    orderId: fc.option(text, { nil: null }),
    applied: fc.boolean(),
    duplicate: fc.boolean(),
    refusal: fc.option(
      fc.record({
        code: fc.constantFrom('NOT_FOUND', 'INSUFFICIENT_STOCK', 'CONFLICT', 'BUSY'),
        reason: fc.option(fc.constantFrom('UNKNOWN_RESERVATION', 'OTHER_CHANNEL'), { nil: null }),
        message: text,
        available: fc.option(number, { nil: null }),
      }),
      { nil: undefined },
    ),
  })
  .map(({ cmd, refusal, ...c }) => {
    if (refusal !== undefined) {
      const refused: ErrorResult = { ok: false, ...refusal };
      return { cmd, result: refused };
    }
    const result: OkResult = {
      ok: true,
      applied: c.applied,
      duplicate: c.duplicate,
      position: null,
      reservation: {
        reservationId:
          cmd.op === 'reserve' || cmd.op === 'release' || cmd.op === 'confirm'
            ? cmd.reservationId
            : '',
        sku: c.otherSku ?? ('sku' in cmd ? cmd.sku : 'sku'),
        channel: c.otherChannel ?? ('channel' in cmd ? cmd.channel : undefined) ?? 'web',
        qty: c.qty,
        state: c.state,
        lines:
          c.atLocation !== undefined && cmd.op === 'reserve' && cmd.location !== undefined
            ? [{ location: cmd.location, qty: c.atLocation }]
            : c.lines,
        expiresAt: c.expiresAt,
        orderId: c.orderId,
      },
    };
    return { cmd, result: result };
  });

/** Whether the layout holds the answer's strings (the command's own SKU and channel stay home). */
function answerFits(result: CommandResult, cmd: Command): boolean {
  if (!result.ok) {
    return fits(result.code) && fits(result.reason ?? undefined) && fits(result.message);
  }
  const r = result.reservation;
  if (r === null) return false;
  const sku = 'sku' in cmd && cmd.sku === r.sku ? undefined : r.sku;
  const channel = 'channel' in cmd && cmd.channel === r.channel ? undefined : r.channel;
  const own = cmd.op === 'reserve' && r.lines.length === 1 && r.lines[0]?.location === cmd.location;
  const locations = own ? [] : r.lines.map((l) => l.location);
  return [sku, channel, r.orderId ?? undefined, ...locations].every(fits);
}

describe('answers in binary', () => {
  it('give back the result msgpack gave back, or are declined with nothing written', () => {
    fc.assert(
      fc.property(answered, ({ cmd, result }) => {
        const w = new PeerWriter();
        const written = writeAnswer(w, 42, result, cmd);
        expect(written).toBe(answerFits(result, cmd));
        if (!written) {
          expect(w.at).toBe(0);
          return;
        }
        const r = new ByteReader(bytesOf(w), 0, 'peer message cut short');
        const tag = r.u8();
        expect(tag).toBe(result.ok ? ItemTag.Reservation : ItemTag.Refusal);
        expect(r.f64()).toBe(42);
        const before = unpackAnswer(viaMsgpack(packAnswer(result, cmd)), cmd);
        expect(readAnswer(r, tag, cmd)).toEqual(before);
        expect(r.at).toBe(w.at);
      }),
      { numRuns: 400 },
    );
  });

  it('declines answers that are not a reservation of the command', () => {
    const cmd: Command = { op: 'release', reservationId: 'r1' };
    const w = new PeerWriter();
    const position = { sku: 's', location: 'l', onHand: 1, reserved: 0, allocated: 0 };
    const other: CommandResult[] = [
      { ok: true, applied: true, duplicate: false, position, reservation: null },
      { ok: true, applied: true, duplicate: false, position: null, reservation: null },
      {
        ok: true,
        applied: true,
        duplicate: false,
        position: null,
        reservation: {
          reservationId: 'r2',
          sku: 's',
          channel: 'web',
          qty: 1,
          state: 'held',
          lines: [],
          expiresAt: 0,
          orderId: null,
        },
      },
    ];
    for (const result of other) {
      expect(writeAnswer(w, 1, result, cmd)).toBe(false);
      expect(w.at).toBe(0);
    }
  });
});

// ---- the link: binary and msgpack items in one message, in order ------------------------------

let links: PeerLink[] = [];
afterEach(() => {
  for (const link of links) link.close();
  links = [];
});

/** One item a side sends: a command, a plain request, or a push. */
const item = fc.oneof(
  { weight: 4, arbitrary: hotCommand.map((cmd) => ({ type: 'cmd' as const, cmd })) },
  {
    weight: 1,
    arbitrary: fc.constant({
      type: 'cmd' as const,
      cmd: { op: 'setOnHand', sku: 's', location: 'l', onHand: 1, asOf: 1 },
    }),
  },
  { weight: 1, arbitrary: text.map((payload) => ({ type: 'ask' as const, payload })) },
  { weight: 1, arbitrary: text.map((payload) => ({ type: 'push' as const, payload })) },
);

/** The answer the owner gives a command: a reservation it names, or a refusal now and then. */
function answerTo(cmd: Command, n: number): CommandResult {
  if (n % 3 === 2 || cmd.op === 'setOnHand') {
    return { ok: false, code: 'NOT_FOUND', reason: null, message: `no ${n}`, available: n };
  }
  const id = (cmd as { reservationId: string }).reservationId;
  return {
    ok: true,
    applied: n % 2 === 0,
    duplicate: false,
    position: null,
    reservation: {
      reservationId: id,
      sku: 'sku' in cmd ? cmd.sku : `sku-${n}`,
      channel: 'web',
      qty: n,
      state: 'held',
      lines: [{ location: 'store-1', qty: n }],
      expiresAt: n * 1000,
      orderId: cmd.op === 'confirm' ? cmd.orderId : null,
    },
  };
}

describe('PeerLink', () => {
  it('serves a turn’s items in the order sent and answers each request with its own result', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(item, { minLength: 1, maxLength: 40 }), async (items) => {
        const { port1, port2 } = new MessageChannel();
        const served: unknown[] = [];
        let n = 0;
        const a = new PeerLink(
          1,
          port1,
          () => undefined,
          () => undefined,
        );
        const b: PeerLink = new PeerLink(
          0,
          port2,
          (kind, payload, reply) => {
            if (kind === 'cmd') {
              // As ShardRouter serves a command sent as msgpack.
              served.push(payload);
              const cmd = payload as Command;
              reply?.(packAnswer(answerTo(cmd, n++), cmd));
              return;
            }
            served.push({ kind, payload });
            reply?.(`re:${String(payload)}`);
          },
          (cmd, link, id) => {
            served.push(cmd);
            link.deliver(answerTo(cmd, n++), id, cmd);
          },
        );
        links.push(a, b);
        const expected: unknown[] = [];
        const answers: Promise<unknown>[] = [];
        for (const it of items) {
          if (it.type === 'cmd') {
            expected.push(viaMsgpack(it.cmd));
            answers.push(
              new Promise<CommandResult>((resolve) => {
                const waiter: CommandWaiter = {
                  cmd: it.cmd,
                  answered: (v) => {
                    // A msgpack answer to a command is packAnswer's: rebuilt as the router does.
                    resolve(unpackAnswer(v, it.cmd));
                  },
                  settled: resolve,
                };
                a.requestCommand(waiter);
              }),
            );
          } else if (it.type === 'ask') {
            expected.push({ kind: 'echo', payload: it.payload });
            answers.push(a.ask('echo', it.payload));
          } else {
            expected.push({ kind: 'note', payload: it.payload });
            a.push('note', it.payload);
          }
        }
        const got = await Promise.all(answers);
        // Pushes after the last request are not answered: wait until the owner has them too.
        await expect.poll(() => served.length).toBe(expected.length);
        // The owner saw every item, in the order sent, each command as sent.
        expect(served).toEqual(expected);
        // Each request got the answer made for it (n counts the owner's answers in order).
        let k = 0;
        const want: unknown[] = [];
        for (const it of items) {
          if (it.type === 'cmd') want.push(viaMsgpack(answerTo(it.cmd, k++)));
          else if (it.type === 'ask') want.push(`re:${it.payload}`);
        }
        expect(got).toEqual(want);
        expect(a.pending).toBe(0);
        a.close();
        b.close();
        links = [];
      }),
      { numRuns: 60 },
    );
  });
});
