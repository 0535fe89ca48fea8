import type { Clock, LocationChoice, LocationRanker } from '../engine/index.ts';
import type { SourcingCandidates } from './candidates.ts';
import { channelKey } from './order-index.ts';
import type { SourcingProfiles } from './profile-selection.ts';
import { planSourcing } from './sourcing.ts';

/** How long a network reservation's location ranking is reused (see `rank`). */
const RANK_TTL_MS = 250;
const MAX_RANKINGS = 100_000;

/**
 * LocationRanker: a network reservation is held where the channel's profile would source it.
 * A ranking is reused for RANK_TTL_MS per channel and SKU: under a flash sale one SKU is
 * reserved thousands of times a second, and ranking two hundred locations each time would cost
 * more than the reservation. A stale ranking only orders the preference; the split still takes
 * no more than each location has, so it can never oversell.
 */
export class NetworkRanker implements LocationRanker {
  private readonly rankings = new Map<string, { at: number; ranking: readonly string[] }>();

  constructor(
    private readonly clock: Clock,
    private readonly profiles: SourcingProfiles,
    private readonly candidates: SourcingCandidates,
  ) {}

  rank(
    channel: string,
    sku: string,
    qty: number,
    choices: readonly LocationChoice[],
  ): readonly string[] {
    const key = channelKey(channel, sku);
    const now = this.clock.now();
    const cached = this.rankings.get(key);
    if (cached !== undefined && now - cached.at < RANK_TTL_MS) return cached.ranking;
    const profile = this.profiles.profileFor(channel, 'reservation');
    const plan = planSourcing({
      need: new Map([[sku, qty]]),
      destination: null,
      candidates: choices.map((c) =>
        this.candidates.candidate(c.location, new Map([[sku, c.available]]), null),
      ),
      excluded: new Map(),
      inUse: [],
      profile: { ...profile, split: { policy: 'backorder', maxShipments: null } },
      explain: 0,
    });
    if (this.rankings.size >= MAX_RANKINGS) this.rankings.clear();
    this.rankings.set(key, { at: now, ranking: plan.ranking });
    return plan.ranking;
  }
}
