import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OrderResult } from '../../orders/index.ts';
import { MemoryJournal } from '../engine/memory-journal.ts';
import { orderHarness } from './order-fixture.ts';
import { shipped } from './return-fixture.ts';

// A model-based property: random sequences of return requests, receipts (any location, any
// disposition), hold resolutions, refunds and retries of the last call, run against the order
// service and a plain model side by side. After every step the units are conserved (shipped =
// received + missing + still with the customer, per line), onHand at every location is exactly
// what was there after shipping plus the units restocked there, held units are what the model
// holds, and refunds never exceed what was received or paid. Some requests name a replacement
// (an exchange): it becomes an order of its own exactly when the model says (the units received
// cover its value), never twice, and credit notes count what it settled. At the end the journal,
// replayed, gives the same orders and stock.

const LOCATIONS = ['paris', 'lyon', 'dc'] as const;
const LINES = [
  ['1', 'A', 4],
  ['2', 'B', 3],
] as const;
const DISPOSITIONS = ['restock', 'write_off', 'return_to_vendor', 'refurbish', 'missing'] as const;

type Action =
  | { kind: 'request'; line: '1' | '2'; qty: number; exchange: number | null }
  | {
      kind: 'receive';
      ret: number;
      line: '1' | '2';
      disposition: (typeof DISPOSITIONS)[number];
      qty: number;
      /** Mostly the return's own location (once it has one), sometimes any other. */
      loc: number;
    }
  | {
      kind: 'resolve';
      ret: number;
      line: '1' | '2';
      from: 'return_to_vendor' | 'refurbish';
      to: 'shipped_to_vendor' | 'restock' | 'write_off';
      qty: number;
    }
  | { kind: 'refund'; ret: number }
  | { kind: 'retry' };

const line = fc.constantFrom('1' as const, '2' as const);
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      line,
      qty: fc.integer({ min: 1, max: 3 }),
      /** The replacement's value in units of 500 (1 x C), or none. */
      exchange: fc.option(fc.integer({ min: 1, max: 5 }), { freq: 2 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('receive' as const),
      ret: fc.nat(5),
      line,
      disposition: fc.constantFrom(...DISPOSITIONS),
      qty: fc.integer({ min: 1, max: 2 }),
      loc: fc.nat(11),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('resolve' as const),
      ret: fc.nat(5),
      line,
      from: fc.constantFrom('return_to_vendor' as const, 'refurbish' as const),
      to: fc.constantFrom('shipped_to_vendor' as const, 'restock' as const, 'write_off' as const),
      qty: fc.integer({ min: 1, max: 2 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('refund' as const), ret: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'retry' as const }) },
);

interface ModelLine {
  requested: number;
  received: number;
  missing: number;
  rtv: number;
  refurbish: number;
  refunded: number;
}

interface ModelReturn {
  id: string;
  location: string | null;
  lines: Map<string, ModelLine>;
  exchange: { value: number; status: 'awaiting_receipt' | 'placed' | 'declined' } | null;
}

/** What a receipt decides about a model return's exchange (every unit is worth 1000, no fee). */
function settleExchange(r: ModelReturn): void {
  const x = r.exchange;
  if (x?.status !== 'awaiting_receipt') return;
  let received = 0;
  let open = 0;
  for (const l of r.lines.values()) {
    received += l.received;
    open += l.requested - l.received - l.missing;
  }
  if (received * 1000 >= x.value) x.status = 'placed';
  else if (open === 0) x.status = 'declined';
}

function newLine(): ModelLine {
  return { requested: 0, received: 0, missing: 0, rtv: 0, refurbish: 0, refunded: 0 };
}

const SKU_OF = new Map<string, string>(LINES.map(([id, sku]) => [id, sku]));

async function run(actions: readonly Action[]): Promise<void> {
  const journal = new MemoryJournal();
  const h = orderHarness({ journal });
  await h.stock('A', { paris: 4, lyon: 0, dc: 0 });
  await h.stock('B', { paris: 3, lyon: 0, dc: 0 });
  await h.stock('C', { paris: 100, lyon: 0, dc: 0 });
  const { orderId } = await shipped(h, [
    ['A', 4],
    ['B', 3],
  ]);
  const returns: ModelReturn[] = [];
  const restocked = new Map<string, number>(); // sku@location
  let last: (() => Promise<OrderResult>) | null = null;
  let counter = 0;

  const onHand = (sku: string, location: string): number =>
    h.engine.position(sku, location)?.onHand ?? 0;

  for (const a of actions) {
    const ret = 'ret' in a ? a.ret : 0;
    const rr: ModelReturn | null =
      returns.length === 0 ? null : (returns[ret % returns.length] ?? null);
    let call: (() => Promise<OrderResult>) | null = null;
    let expectOk = false;
    let apply = (): void => undefined;
    switch (a.kind) {
      case 'request': {
        const id = `r-${String(returns.length)}`;
        const shippedQty = LINES.find(([l]) => l === a.line)?.[2] ?? 0;
        let asked = 0;
        for (const x of returns) asked += x.lines.get(a.line)?.requested ?? 0;
        const value = a.exchange === null ? 0 : a.exchange * 500;
        expectOk = a.qty <= shippedQty - asked && value <= a.qty * 1000;
        const body = {
          returnId: id,
          lines: [{ lineId: a.line, qty: a.qty, reason: 'size' }],
          ...(a.exchange === null
            ? {}
            : { exchange: { lines: [{ sku: 'C', qty: 1, unitPrice: value }] } }),
        };
        call = () => h.orders.requestReturn(orderId, body, null);
        apply = () => {
          const lines = new Map<string, ModelLine>();
          lines.set(a.line, { ...newLine(), requested: a.qty });
          const exchange =
            a.exchange === null ? null : { value, status: 'awaiting_receipt' as const };
          returns.push({ id, location: null, lines, exchange });
        };
        break;
      }
      case 'receive': {
        const r = rr;
        if (r === null) continue;
        const location =
          r.location !== null && a.loc < 10
            ? r.location
            : (LOCATIONS[a.loc % LOCATIONS.length] ?? 'lyon');
        const lineId = ownLine(r, a.line);
        const l = r.lines.get(lineId);
        const awaited = l === undefined ? 0 : l.requested - l.received - l.missing;
        expectOk =
          l !== undefined && a.qty <= awaited && (r.location === null || r.location === location);
        const body = {
          receiptId: `rc-${String(counter++)}`,
          location: location,
          lines: [{ lineId, disposition: a.disposition, qty: a.qty }],
        };
        call = () => h.orders.receiveReturn(r.id, body, null);
        apply = () => {
          const m = l as ModelLine;
          r.location = location;
          if (a.disposition === 'missing') m.missing += a.qty;
          else m.received += a.qty;
          if (a.disposition === 'return_to_vendor') m.rtv += a.qty;
          if (a.disposition === 'refurbish') m.refurbish += a.qty;
          if (a.disposition === 'restock')
            bump(restocked, `${SKU_OF.get(lineId) ?? ''}@${location}`, a.qty);
          settleExchange(r);
        };
        break;
      }
      case 'resolve': {
        // Mostly a return holding units, so that resolutions are exercised.
        const holding = returns.filter((x) =>
          [...x.lines.values()].some((l) => l.rtv + l.refurbish > 0),
        );
        const r = holding.length > 0 ? (holding[ret % holding.length] ?? null) : rr;
        if (r === null) continue;
        const lineId = ownLine(r, a.line);
        const l = r.lines.get(lineId);
        const fits =
          a.from === 'return_to_vendor'
            ? a.to === 'shipped_to_vendor'
            : a.to !== 'shipped_to_vendor';
        const held = l === undefined ? 0 : a.from === 'return_to_vendor' ? l.rtv : l.refurbish;
        expectOk = fits && l !== undefined && a.qty <= held;
        const body = {
          resolutionId: `h-${String(counter++)}`,
          lineId,
          from: a.from,
          to: a.to,
          qty: a.qty,
        };
        call = () => h.orders.resolveReturnHold(r.id, body, null);
        apply = () => {
          const m = l as ModelLine;
          if (a.from === 'return_to_vendor') m.rtv -= a.qty;
          else m.refurbish -= a.qty;
          if (a.to === 'restock')
            bump(restocked, `${SKU_OF.get(lineId) ?? ''}@${r.location ?? ''}`, a.qty);
        };
        break;
      }
      case 'refund': {
        const r = rr;
        if (r === null) continue;
        expectOk =
          [...r.lines.values()].some((l) => l.received > l.refunded) &&
          r.exchange?.status !== 'awaiting_receipt';
        const body = { creditNoteId: `cn-${String(counter++)}` };
        call = () => h.orders.refundReturn(r.id, body, null);
        apply = () => {
          for (const l of r.lines.values()) l.refunded = l.received;
        };
        break;
      }
      case 'retry': {
        if (last === null) continue;
        const before = LOCATIONS.flatMap((loc) => [onHand('A', loc), onHand('B', loc)]);
        const again = await last();
        expect(again.ok && again.duplicate, 'a retry is a duplicate').toBe(true);
        expect(LOCATIONS.flatMap((loc) => [onHand('A', loc), onHand('B', loc)])).toEqual(before);
        continue;
      }
    }
    const result = await call();
    expect(result.ok, `${a.kind}: ${result.ok ? '' : result.message}`).toBe(expectOk);
    if (result.ok) {
      apply();
      last = call;
    }

    // Conservation, per line: shipped = received + missing + still with the customer.
    const view = h.orders.get(orderId);
    for (const [lineId, , shippedQty] of LINES) {
      let received = 0;
      let missing = 0;
      let requested = 0;
      let refunded = 0;
      for (const x of view?.returns ?? []) {
        for (const l of x.lines) {
          if (l.lineId !== lineId) continue;
          received += l.received;
          missing += l.missing;
          requested += l.qty;
          refunded += l.refunded;
          expect(l.refunded).toBeLessThanOrEqual(l.received);
          expect(l.received + l.missing).toBeLessThanOrEqual(l.qty);
        }
      }
      let modelReceived = 0;
      let modelMissing = 0;
      for (const x of returns) {
        modelReceived += x.lines.get(lineId)?.received ?? 0;
        modelMissing += x.lines.get(lineId)?.missing ?? 0;
      }
      expect([received, missing]).toEqual([modelReceived, modelMissing]);
      const withCustomer = shippedQty - received - missing;
      expect(withCustomer).toBeGreaterThanOrEqual(0);
      expect(received + missing + withCustomer).toBe(shippedQty);
      expect(requested).toBeLessThanOrEqual(shippedQty);
      expect(refunded).toBeLessThanOrEqual(received);
    }
    // Restocked units, and only they, are back in onHand (shipping left 0 everywhere).
    for (const sku of ['A', 'B']) {
      for (const loc of LOCATIONS) {
        expect(onHand(sku, loc), `${sku}@${loc}`).toBe(restocked.get(`${sku}@${loc}`) ?? 0);
      }
    }
    // Held units per location are the model's, and never in onHand.
    for (const loc of LOCATIONS) {
      const held = new Map<string, [number, number]>();
      for (const x of returns) {
        if (x.location !== loc) continue;
        for (const [lineId, l] of x.lines) {
          const sku = SKU_OF.get(lineId) ?? '';
          const [rtv, ref] = held.get(sku) ?? [0, 0];
          held.set(sku, [rtv + l.rtv, ref + l.refurbish]);
        }
      }
      const expected = [...held]
        .filter(([, [rtv, ref]]) => rtv + ref > 0)
        .map(([sku, [returnToVendor, refurbish]]) => ({ sku, returnToVendor, refurbish }))
        .sort((x, y) => x.sku.localeCompare(y.sku));
      expect(h.orders.heldAt(loc).skus).toEqual(expected);
    }
    let credited = 0;
    for (const x of view?.returns ?? []) {
      for (const c of x.creditNotes) credited += c.total + c.exchange;
      expect(x.exchange?.credited ?? 0).toBeLessThanOrEqual(x.exchange?.value ?? 0);
    }
    expect(credited).toBeLessThanOrEqual(view?.payment.amount ?? 0);
    // Exchanges: placed exactly when the model says, each as one order holding one C.
    let placed = 0;
    for (const x of returns) {
      const shown = view?.returns.find((v) => v.returnId === x.id);
      expect(shown?.exchange?.status ?? null).toBe(x.exchange?.status ?? null);
      const exchangeOrder = h.orders.get(`${orderId}~x~${x.id}`);
      if (x.exchange?.status === 'placed') {
        placed++;
        expect(shown?.exchangeOrderId).toBe(`${orderId}~x~${x.id}`);
        expect(exchangeOrder?.exchangeFor).toEqual({ orderId, returnId: x.id });
      } else {
        expect(exchangeOrder).toBeNull();
      }
    }
    expect(h.engine.position('C', 'paris')?.allocated ?? 0).toBe(placed);
    expect(h.orders.stats().placed).toBe(1 + placed);
  }

  // Replay after a restart equals memory.
  await h.idle();
  const again = orderHarness({ start: false });
  again.engine.storage.replay(journal.records);
  expect(again.orders.get(orderId)).toEqual(h.orders.get(orderId));
  for (const x of returns) {
    const id = `${orderId}~x~${x.id}`;
    expect(again.orders.get(id)).toEqual(h.orders.get(id));
  }
  expect(again.engine.position('C', 'paris')).toEqual(h.engine.position('C', 'paris'));
  for (const sku of ['A', 'B']) {
    for (const loc of LOCATIONS) {
      expect(again.engine.position(sku, loc)).toEqual(h.engine.position(sku, loc));
    }
  }
  for (const loc of LOCATIONS) expect(again.orders.heldAt(loc)).toEqual(h.orders.heldAt(loc));
}

/** The line a step names when the return has it, else the return's first line. */
function ownLine(r: ModelReturn, wanted: string): string {
  return r.lines.has(wanted) ? wanted : ([...r.lines.keys()][0] ?? wanted);
}

function bump(map: Map<string, number>, key: string, by: number): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

describe('returns: a model-based property', () => {
  it('conserves units, restocks exactly the restocked ones and replays to the same state', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 5, maxLength: 30 }), (actions) =>
        run(actions),
      ),
      { numRuns: 100 },
    );
  });
});
