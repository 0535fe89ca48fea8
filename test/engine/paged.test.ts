import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PagedF64, PagedList } from '../../engine/paged.ts';

describe('PagedList', () => {
  it('behaves as an array under random pushes, pops, sets and clears, across pages', () => {
    type Step =
      | { kind: 'push'; value: number }
      | { kind: 'pop' }
      | { kind: 'set'; at: number; value: number }
      | { kind: 'clear' };
    const step: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({ kind: fc.constant('push' as const), value: fc.integer() }),
      },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('pop' as const) }) },
      {
        weight: 2,
        arbitrary: fc.record({
          kind: fc.constant('set' as const),
          at: fc.nat(),
          value: fc.integer(),
        }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const) }) },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4 }),
        fc.array(step, { maxLength: 300 }),
        (bits, steps) => {
          const list = new PagedList<{ v: number }>(bits);
          const model: { v: number }[] = [];
          for (const s of steps) {
            switch (s.kind) {
              case 'push': {
                const item = { v: s.value };
                list.push(item);
                model.push(item);
                break;
              }
              case 'pop':
                expect(list.pop()).toBe(model.pop());
                break;
              case 'set':
                if (model.length > 0) {
                  const item = { v: s.value };
                  list.set(s.at % model.length, item);
                  model[s.at % model.length] = item;
                }
                break;
              case 'clear':
                list.clear();
                model.length = 0;
            }
            expect(list.length).toBe(model.length);
          }
          for (let i = 0; i < model.length; i++) expect(list.at(i)).toBe(model[i]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('grows a page at a time: pushes past a page keep every earlier item', () => {
    const list = new PagedList<number>(3);
    for (let i = 0; i < 100; i++) list.push(i);
    expect(Array.from({ length: 100 }, (_, i) => list.at(i))).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    );
    for (let i = 99; i >= 0; i--) expect(list.pop()).toBe(i);
    expect(list.pop()).toBeUndefined();
    expect(list.length).toBe(0);
  });
});

describe('PagedF64', () => {
  it('keeps every value through growth, reads 0 where nothing was set', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 6 }),
        fc.array(fc.tuple(fc.nat(500), fc.double({ noNaN: true })), { maxLength: 200 }),
        (bits, writes) => {
          const column = new PagedF64(bits);
          const model = new Map<number, number>();
          for (const [at, value] of writes) {
            column.ensure(at + 1);
            expect(column.capacity).toBeGreaterThan(at);
            column.set(at, value);
            model.set(at, value);
          }
          for (let i = 0; i < column.capacity; i++) {
            expect(Object.is(column.at(i), model.get(i) ?? 0)).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
