/**
 * Which shard holds a reservation another shard granted through this worker, so that its release
 * or confirm goes straight there. Only a shortcut: a miss (a reservation made through another
 * worker, or dropped here to bound memory) asks every shard, and the one that holds it answers.
 * An entry outliving its reservation still names the right shard (ids are not reused).
 */
export class ReservationDirectory {
  private readonly map = new Map<string, number>();

  constructor(private readonly capacity = 1_000_000) {}

  get(id: string): number | undefined {
    return this.map.get(id);
  }

  set(id: string, shard: number): void {
    this.map.set(id, shard);
    if (this.map.size > this.capacity) this.trim();
  }

  delete(id: string): void {
    this.map.delete(id);
  }

  get size(): number {
    return this.map.size;
  }

  /** Drops the oldest tenth (a Map iterates in insertion order). */
  private trim(): void {
    let drop = Math.ceil(this.capacity / 10);
    for (const id of this.map.keys()) {
      if (drop-- <= 0) break;
      this.map.delete(id);
    }
  }
}
