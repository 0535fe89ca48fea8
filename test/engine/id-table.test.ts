import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fnv1a32, IdTable, idHash, SegmentedIdTable } from '../../engine/id-table.ts';

type Op =
  | { kind: 'set'; key: number; value: number }
  | { kind: 'delete'; key: number }
  | { kind: 'get'; key: number };

const opArb = (keys: number): fc.Arbitrary<Op> =>
  fc.oneof(
    fc.record({
      kind: fc.constant('set' as const),
      key: fc.nat(keys - 1),
      value: fc.integer(),
    }),
    fc.record({ kind: fc.constant('delete' as const), key: fc.nat(keys - 1) }),
    fc.record({ kind: fc.constant('get' as const), key: fc.nat(keys - 1) }),
  );

/**
 * Runs `ops` on an IdTable and a Map side by side; `hashOf` picks the hash passed for a key (the
 * table must agree with the Map whatever hash a caller gives, as long as one key always gets the
 * same one).
 */
/** What agreesWithMap drives: an IdTable or a SegmentedIdTable. */
type StringTable = Pick<IdTable<number>, 'get' | 'has' | 'set' | 'delete' | 'size'>;

function agreesWithMap(
  ops: readonly Op[],
  hashOf: (key: number) => number,
  table: StringTable = new IdTable<number>(),
): void {
  const model = new Map<string, number>();
  const name = (k: number): string => `r-${k}`;
  for (const op of ops) {
    const key = name(op.key);
    const hash = hashOf(op.key);
    switch (op.kind) {
      case 'set':
        table.set(key, op.value, hash);
        model.set(key, op.value);
        break;
      case 'delete':
        expect(table.delete(key, hash)).toBe(model.delete(key));
        break;
      case 'get':
        expect(table.get(key, hash)).toBe(model.get(key));
        expect(table.has(key, hash)).toBe(model.has(key));
    }
    expect(table.size).toBe(model.size);
  }
  // Every key still reachable after the deletions' shifts, every absent one absent.
  for (let k = 0; k < 300; k++) expect(table.get(name(k), hashOf(k))).toBe(model.get(name(k)));
}

describe('IdTable', () => {
  it('behaves as a Map under random sets, deletes and gets (its own hash)', () => {
    fc.assert(
      fc.property(fc.array(opArb(300), { minLength: 100, maxLength: 600, size: 'max' }), (ops) => {
        agreesWithMap(ops, (k) => idHash(`r-${k}`));
      }),
      { numRuns: 100 },
    );
  });

  it('keeps every key reachable when hashes collide and runs wrap around the end', () => {
    // Few distinct hashes, at the table's last slots and its first whatever its size (-1 & mask
    // is the last slot, 1 << 24 & mask the first): long runs that wrap to slot 0, where a
    // deletion's backward shift has to tell wrapped homes from local ones.
    // A dozen keys: a run is a few keys long, so a hole at the end meets a wrapped key whose home
    // is slot 0 (which must stay) as often as one whose home is the end (which must move).
    const hashArb = fc.array(
      fc.oneof(fc.constantFrom(-1, -2, -3, 1 << 24, (1 << 24) + 1), fc.integer({ min: 1 })),
      { minLength: 300, maxLength: 300 },
    );
    fc.assert(
      fc.property(
        hashArb,
        fc.array(opArb(12), { minLength: 50, maxLength: 200, size: 'max' }),
        (hashes, ops) => {
          agreesWithMap(ops, (k) => hashes[k] as number);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('behaves as a Map while it grows a few slots at a time, whatever comes in between', () => {
    // One to three old slots moved per insert or delete: a growth's drain spans many operations,
    // with gets, sets of keys not moved yet and deletes on either side of its cursor.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.array(opArb(300), { minLength: 100, maxLength: 800, size: 'max' }),
        (step, ops) => {
          agreesWithMap(ops, (k) => idHash(`r-${k}`), new IdTable<number>(16, step));
        },
      ),
      { numRuns: 200 },
    );
    // Colliding hashes, and the two a table keeps for itself (0: empty, 1: a slot that left).
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(0, 1, 2, 3, -1, 1 << 24), { minLength: 300, maxLength: 300 }),
        fc.array(opArb(40), { minLength: 50, maxLength: 300, size: 'max' }),
        (hashes, ops) => {
          agreesWithMap(ops, (k) => hashes[k] as number, new IdTable<number>(16, 1));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('moves a growth over to the bigger table a few slots per operation, not in one call', () => {
    const table = new IdTable<number>(16, 4);
    let i = 0;
    // 1,024 slots take 640 keys: the 641st starts a growth.
    const growing = (): boolean => table.growing;
    while (!(growing() && table.size > 600)) table.set(`id-${i}`, i++);
    expect(table.size).toBe(641);
    let steps = 0;
    while (growing()) {
      table.set(`id-${i}`, i++);
      steps++;
    }
    // 4 old slots an insert: 1,024 slots drain over 256 inserts, every key found meanwhile.
    expect(steps).toBe(256);
    for (let k = 0; k < i; k++) expect(table.get(`id-${k}`)).toBe(k);
  });

  it('grows past its initial capacity and clears', () => {
    const table = new IdTable<number>();
    for (let i = 0; i < 10_000; i++) table.set(`id-${i}`, i);
    expect(table.size).toBe(10_000);
    for (let i = 0; i < 10_000; i += 2) expect(table.delete(`id-${i}`)).toBe(true);
    for (let i = 0; i < 10_000; i++) expect(table.get(`id-${i}`)).toBe(i % 2 === 0 ? undefined : i);
    table.clear();
    expect(table.size).toBe(0);
    expect(table.get('id-1')).toBeUndefined();
  });

  it('hashes ids the way the shard layout always has, and never to 0', () => {
    // FNV-1a 32 of "a" and of "" (published test vectors): shard assignment depends on it.
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    for (let i = 0; i < 1_000; i++) expect(idHash(`x${i}`)).not.toBe(0);
  });
});

describe('SegmentedIdTable', () => {
  it('behaves as a Map under random sets, deletes and gets, whatever hashes the keys get', () => {
    // Its own hash (spread over the 64 segments), hashes all in one segment (top bits equal),
    // colliding ones, and the two a segment keeps for itself; a growth drains a slot at a time.
    const hashArb = fc.oneof(
      fc.constant(null),
      fc.array(fc.integer({ min: 0, max: (1 << 26) - 1 }), { minLength: 300, maxLength: 300 }),
      fc.array(fc.constantFrom(0, 1, 2, -1, -2, 1 << 24, 1 << 26, -(1 << 26)), {
        minLength: 300,
        maxLength: 300,
      }),
    );
    fc.assert(
      fc.property(
        hashArb,
        fc.array(opArb(300), { minLength: 100, maxLength: 800, size: 'max' }),
        (hashes, ops) => {
          const hashOf = (k: number): number =>
            hashes === null ? idHash(`r-${k}`) : (hashes[k] as number);
          agreesWithMap(ops, hashOf, new SegmentedIdTable<number>(1));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('grows segment by segment: no segment holds much more than its share', () => {
    const table = new SegmentedIdTable<number>();
    for (let i = 0; i < 200_000; i++) table.set(`id-${i}`, i);
    expect(table.size).toBe(200_000);
    // 200,000 keys over 64 segments: about 3,125 each, so 8,192 slots (filled to 5/8 at most),
    // where one table would be 524,288 slots, allocated whole by its last growth.
    expect(table.largestSegment).toBeLessThanOrEqual(8_192);
    for (let i = 0; i < 200_000; i += 3) expect(table.delete(`id-${i}`)).toBe(true);
    for (let i = 0; i < 200_000; i++)
      expect(table.get(`id-${i}`)).toBe(i % 3 === 0 ? undefined : i);
    table.clear();
    expect(table.size).toBe(0);
    expect(table.has('id-1')).toBe(false);
  });
});
