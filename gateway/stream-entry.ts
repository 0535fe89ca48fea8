import type { FeedKind } from './feed-parser.ts';

/** The fields a stream entry may carry: a feed row's (docs/api.md, "From a Redis Stream"). */
const ENTRY_FIELDS = new Set(['sku', 'location', 'onHand', 'delta', 'asOf', 'id']);

/** An entry that reads as one feed row of `kind`; its values are checked as a row's. */
export interface StreamRow {
  readonly kind: FeedKind;
  readonly fields: ReadonlyMap<string, string>;
}

/**
 * Reads one stream entry's field list (`[name, value, name, value, ...]` as XREADGROUP answers)
 * as a feed row: `onHand` makes it a snapshot row, `delta` a delta row. Only the envelope is
 * checked here (the kind, unknown or repeated fields); the row's values go through the feed
 * parser, the same checks as an HTTP feed's rows. A delta row without `id` takes
 * `stream-<entry id>`: a redelivered entry repeats its id, so it is not applied twice.
 *
 * `fields` is null for an entry that was deleted (XDEL, trimming) while it was pending.
 */
export function readStreamEntry(
  entryId: string,
  fields: readonly string[] | null,
): StreamRow | string {
  if (fields === null) return 'the entry was deleted from the stream before it was read';
  if (fields.length % 2 !== 0) return 'the entry has a field without a value';
  const map = new Map<string, string>();
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as string;
    const value = fields[i + 1] as string;
    if (!ENTRY_FIELDS.has(name)) {
      return `unknown field ${name.slice(0, 40)} (fields: sku, location, onHand or delta, asOf, id)`;
    }
    if (map.has(name)) return `field ${name} is repeated`;
    map.set(name, value);
  }
  const snapshot = map.has('onHand');
  if (snapshot === map.has('delta'))
    return 'an entry has one of onHand (absolute stock) and delta (a change), not both';
  if (!snapshot && !map.has('id')) map.set('id', `stream-${entryId}`);
  return { kind: snapshot ? 'snapshot' : 'delta', fields: map };
}
