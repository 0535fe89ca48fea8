import type { CommandResult } from './commands.ts';

/**
 * An id-keyed command (adjust, allocate, deallocate, ship) a book has applied: its fingerprint
 * tells a retry (same content: answered again) from a reuse of the id (CONFLICT).
 */
export class RecentOp {
  constructor(
    readonly fingerprint: string,
    readonly result: CommandResult,
  ) {}
}
