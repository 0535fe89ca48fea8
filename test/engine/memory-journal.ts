import type { JournalRecord, JournalWriter } from '../../engine/index.ts';

export type AppendOutcome = 'ok' | 'fail' | 'ghost';

/**
 * An in-process JournalWriter for engine tests: it keeps records in an array and follows a plan
 * for each append: `ok`, `fail` (nothing stored, rejected) or `ghost` (stored, then rejected: the
 * outcome a client of a timed-out store sees). The stores themselves are tested against real
 * files and a real Redis in test/persistence.
 */
export class MemoryJournal implements JournalWriter {
  readonly records: JournalRecord[] = [];
  appends = 0;
  down = false;

  constructor(private readonly plan: AppendOutcome[] = []) {}

  append(records: readonly JournalRecord[]): Promise<void> {
    this.appends++;
    const outcome = this.down ? 'fail' : (this.plan.shift() ?? 'ok');
    if (outcome !== 'fail') this.records.push(...structuredClone(records));
    return outcome === 'ok' ? Promise.resolve() : Promise.reject(new Error(`append ${outcome}`));
  }

  resync(durableSeq: number): Promise<readonly JournalRecord[]> {
    if (this.down) return Promise.reject(new Error('still down'));
    return Promise.resolve(this.records.filter((r) => r.seq > durableSeq));
  }
}
