/** Start-up and configuration failures of a store (e.g. Redis settings that would lose
 * acknowledged writes in strict mode). Runtime write failures are not thrown at callers: the
 * engine sees a rejected append and answers UNAVAILABLE. */
export class PersistenceError extends Error {
  override readonly name = 'PersistenceError';
  readonly code: 'STORE_MISCONFIGURED' | 'STORE_UNREACHABLE' | 'STORE_CORRUPT';

  constructor(code: PersistenceError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
