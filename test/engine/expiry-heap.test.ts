import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExpiryHeap, type HeapItem } from '../../engine/expiry-heap.ts';

class Item implements HeapItem {
  heapIndex = -1;
  constructor(public dueAt: number) {}
}

describe('ExpiryHeap', () => {
  it('pops in due order under random pushes, removals and re-keys', () => {
    // Pages of 2 to 8 slots as well as the default ones: sifts cross pages all the time.
    fc.assert(
      fc.property(
        fc.constantFrom<[number, number] | []>([1, 1], [2, 3], []),
        fc.array(
          fc.oneof(
            fc.record({
              kind: fc.constant('push' as const),
              due: fc.integer({ min: 0, max: 1000 }),
            }),
            fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
            fc.record({
              kind: fc.constant('rekey' as const),
              pick: fc.nat(),
              due: fc.integer({ min: 0, max: 1000 }),
            }),
            fc.record({ kind: fc.constant('pop' as const) }),
          ),
          { maxLength: 200, size: 'max' },
        ),
        (pages, steps) => {
          const heap = new ExpiryHeap<Item>(...pages);
          const live: Item[] = [];
          for (const step of steps) {
            if (step.kind === 'push') {
              const item = new Item(step.due);
              heap.push(item);
              live.push(item);
            } else if (step.kind === 'pop') {
              const min = Math.min(...live.map((i) => i.dueAt));
              const top = heap.pop();
              if (live.length === 0) expect(top).toBeUndefined();
              else {
                expect(top?.dueAt).toBe(min);
                live.splice(live.indexOf(top as Item), 1);
              }
            } else if (live.length > 0) {
              const item = live[step.pick % live.length] as Item;
              if (step.kind === 'remove') {
                heap.remove(item);
                live.splice(live.indexOf(item), 1);
                expect(item.heapIndex).toBe(-1);
              } else {
                item.dueAt = step.due;
                heap.update(item);
              }
            }
            expect(heap.size).toBe(live.length);
          }
          const drained: number[] = [];
          for (let top = heap.pop(); top !== undefined; top = heap.pop()) drained.push(top.dueAt);
          expect(drained).toEqual(live.map((i) => i.dueAt).sort((a, b) => a - b));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
