import type { Channel, ChannelRules } from './channel-rules.ts';
import type { SkuBook } from './sku-book.ts';

/** Reads what a channel may take of several SKUs at one location after another. */
export interface OfferReader {
  /** Fills `out[i]` with what the channel may take of SKU i at the location; true if any. */
  at(location: string, out: number[]): boolean;
}

/** An OfferReader over the books, read from their kept contributions (see SkuBook.offerAt). */
export class BookOfferReader implements OfferReader {
  constructor(
    private readonly books: readonly (SkuBook | null)[],
    private readonly channel: Channel | null,
    private readonly rules: ChannelRules,
  ) {}

  at(location: string, out: number[]): boolean {
    let any = false;
    for (let i = 0; i < this.books.length; i++) {
      const book = this.books[i];
      const units =
        book === null || book === undefined || this.channel === null
          ? 0
          : book.offerAt(this.channel, location, this.rules);
      out[i] = units;
      if (units > 0) any = true;
    }
    return any;
  }
}
