import { ErrorCode, StockflowError } from '../engine/index.ts';
import type { SourcingProfile } from './sourcing.ts';

export interface ProfileSelection {
  readonly channel: string;
  readonly delivery: 'ship' | 'pickup' | 'reservation' | '*';
  readonly profile: string;
}

/** Which sourcing profile an order (or a network reservation) is sourced with. */
export class SourcingProfiles {
  private readonly byName: Map<string, SourcingProfile>;
  private readonly fallback: SourcingProfile;

  constructor(
    profiles: readonly SourcingProfile[],
    private readonly selection: readonly ProfileSelection[],
    defaultProfile: string,
  ) {
    this.byName = new Map(profiles.map((p) => [p.name, p]));
    const fallback = this.byName.get(defaultProfile);
    if (fallback === undefined) {
      throw new StockflowError(ErrorCode.BAD_REQUEST, `unknown default profile ${defaultProfile}`);
    }
    this.fallback = fallback;
  }

  /** The first selection that matches the channel and delivery type, else the default. */
  profileFor(channel: string, delivery: 'ship' | 'pickup' | 'reservation'): SourcingProfile {
    for (const s of this.selection) {
      if (
        (s.channel === '*' || s.channel === channel) &&
        (s.delivery === '*' || s.delivery === delivery)
      ) {
        const p = this.byName.get(s.profile);
        if (p !== undefined) return p;
      }
    }
    return this.fallback;
  }
}
