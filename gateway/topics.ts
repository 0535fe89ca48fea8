import { isValidId } from '../engine/index.ts';

const PREFIX = 'availability:';

/** A parsed availability topic: `availability:{channel}:{sku}` or `...:{sku}@{location}`. */
export class TopicName {
  constructor(
    readonly topic: string,
    readonly channel: string,
    readonly sku: string,
    /** null for the network value */
    readonly location: string | null,
  ) {}
}

/** Parses a topic name; null when it is not one (ids cannot contain ':' or '@'). */
export function parseTopic(topic: string): TopicName | null {
  if (!topic.startsWith(PREFIX)) return null;
  const rest = topic.slice(PREFIX.length);
  const colon = rest.indexOf(':');
  if (colon === -1) return null;
  const channel = rest.slice(0, colon);
  const tail = rest.slice(colon + 1);
  const at = tail.indexOf('@');
  const sku = at === -1 ? tail : tail.slice(0, at);
  const location = at === -1 ? null : tail.slice(at + 1);
  if (!isValidId(channel) || !isValidId(sku)) return null;
  if (location !== null && !isValidId(location)) return null;
  return new TopicName(topic, channel, sku, location);
}

/**
 * The uWS topic a connection subscribes to for a given encoding. JSON clients subscribe to the
 * topic name itself, msgpack clients to `bin|` + the name; a delta is encoded once per encoding
 * that has subscribers and published once per encoding, and uWS fans it out.
 */
export function binaryTopic(topic: string): string {
  return `bin|${topic}`;
}
