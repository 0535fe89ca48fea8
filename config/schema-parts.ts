import { z, type core } from 'zod';
import { isValidId } from '../engine/index.ts';

/** Small pieces the section schemas share. */

// SKU, location and channel ids end up in topic names (`sku@location`), so the engine's rule holds.
export const id = z.string().refine((value) => isValidId(value), {
  message: 'expected an id: 1-128 printable ASCII characters other than ":" and "@"',
});
/** Free text that must not be empty: names, types, groups, hosts. */
export const label = z.string().min(1);
export const positive = z.int().min(1);

/** A path into the value a check reads; '*' stands for any array index. */
type ReadPath = readonly string[];

/**
 * A `when` guard for a check across fields. By default zod skips a refinement as soon as anything
 * below it has a value of the wrong kind, so one typo elsewhere would hide the check's findings
 * until the next start. This runs the check unless a value it actually reads is of the wrong kind.
 */
export function whenReadable(...reads: readonly ReadPath[]) {
  return (payload: core.ParsePayload): boolean =>
    !payload.issues.some(
      (issue) => issue.continue !== true && reads.some((read) => overlaps(issue.path ?? [], read)),
    );
}

/** One path lies on the other: an issue there means the value read may not be what the type says. */
function overlaps(path: readonly PropertyKey[], read: ReadPath): boolean {
  const common = Math.min(path.length, read.length);
  for (let i = 0; i < common; i++) {
    if (read[i] !== '*' && read[i] !== path[i]) return false;
  }
  return true;
}

/** Calls `onDuplicate(index, firstIndex)` for every value seen earlier in the list. */
export function forEachDuplicate(
  values: readonly unknown[],
  onDuplicate: (index: number, first: number) => void,
): void {
  const seen = new Map<unknown, number>();
  values.forEach((value, index) => {
    const first = seen.get(value);
    if (first === undefined) seen.set(value, index);
    else onDuplicate(index, first);
  });
}

/**
 * The arguments of `.superRefine(...)` for a list whose items must differ in `field`: each repeat
 * is an issue at its own index that names the earlier entry (`duplicate <what>: the same as
 * <path>.<first>.<field>`), never echoing the value itself (it may be a secret key).
 */
export function uniqueField<K extends string>(field: K, what: string, path: string) {
  return [
    (list: readonly Readonly<Record<K, unknown>>[], ctx: z.RefinementCtx): void => {
      forEachDuplicate(
        list.map((item) => item[field]),
        (index, first) => {
          ctx.addIssue({
            code: 'custom',
            path: [index, field],
            message: `duplicate ${what}: the same as ${path}.${first}.${field}`,
          });
        },
      );
    },
    { when: whenReadable(['*', field]) },
  ] as const;
}
