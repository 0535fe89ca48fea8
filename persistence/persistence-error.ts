/** Start-up and configuration failures of a store (e.g. Redis settings that would lose
 * acknowledged writes in strict mode). Runtime write failures are not thrown at callers: the
 * engine sees a rejected append and answers UNAVAILABLE. */
export class PersistenceError extends Error {
  override readonly name = 'PersistenceError';
  /** STORE_CONFLICT: the store already holds a sequence being written (a timed-out write that
   * landed after all, or a second writer on the same journal); the engine resyncs.
   * STORE_TOO_NEW: the store holds records in a format newer than this version reads (it was
   * written by a later version); the start is refused, nothing is cut. */
  readonly code:
    | 'STORE_MISCONFIGURED'
    | 'STORE_UNREACHABLE'
    | 'STORE_CORRUPT'
    | 'STORE_CONFLICT'
    | 'STORE_TOO_NEW';

  constructor(code: PersistenceError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
