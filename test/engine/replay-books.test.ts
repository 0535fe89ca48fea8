import { describe, expect, it } from 'vitest';
import { ReplayBooks } from '../../engine/replay-books.ts';
import { ReservationIndex } from '../../engine/reservation-index.ts';
import { SkuBook } from '../../engine/sku-book.ts';

const index = new ReservationIndex<SkuBook>(() => undefined);
const book = (sku: string): SkuBook => new SkuBook(sku, '', 0, index);

describe('replay finding books by SKU', () => {
  it('finds every book the engine has, those added after it was filled included', () => {
    const books = new Map<string, SkuBook>();
    for (let i = 0; i < 1_000; i++) books.set(`S${i}`, book(`S${i}`));
    const finder = new ReplayBooks();
    for (let i = 0; i < 1_000; i++) expect(finder.find(`S${i}`, books, 0)).toBe(books.get(`S${i}`));
    expect(finder.find('S1000', books, 0)).toBeUndefined();
    // Books created by records replayed meanwhile (no epoch change): found, and kept.
    for (let i = 1_000; i < 5_000; i++) books.set(`S${i}`, book(`S${i}`));
    for (let i = 0; i < 5_000; i++) expect(finder.find(`S${i}`, books, 0)).toBe(books.get(`S${i}`));
    expect(finder.find('', books, 0)).toBeUndefined();
    expect(finder.find('S-é', books, 0)).toBeUndefined();
  });

  it('forgets books once the epoch says some went, and finds the new ones under their SKU', () => {
    const books = new Map<string, SkuBook>([
      ['A', book('A')],
      ['B', book('B')],
    ]);
    const finder = new ReplayBooks();
    expect(finder.find('A', books, 0)).toBe(books.get('A'));
    books.delete('A');
    expect(finder.find('A', books, 1)).toBeUndefined();
    const again = book('A');
    books.clear();
    books.set('A', again);
    expect(finder.find('A', books, 2)).toBe(again);
    expect(finder.find('B', books, 2)).toBeUndefined();
    finder.clear();
    expect(finder.find('A', books, 2)).toBe(again);
  });
});
