/** A location a network reservation may take from, with what the channel may take there. */
export interface LocationChoice {
  readonly location: string;
  readonly available: number;
}

/**
 * Chooses where a network reservation (no location given) is held: the order service plugs its
 * sourcing profiles in here, so a cart's hold lands where the order would ship from. Without one
 * the engine takes the most available locations first.
 */
export interface LocationRanker {
  /** The locations to take from, best first. Any not listed are used after them, by availability. */
  rank(
    channel: string,
    sku: string,
    qty: number,
    choices: readonly LocationChoice[],
  ): readonly string[];
}
