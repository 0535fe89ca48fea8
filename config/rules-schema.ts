import { z } from 'zod';
import { forEachDuplicate, id, label, whenReadable } from './schema-parts.ts';

/**
 * The channel rules: what each demand-side channel may see of the stock. The shape is the
 * engine's RulesInput (engine/channel-rules.ts, where resolution is explained); schema.ts checks
 * at compile time that the two agree.
 */

const quantity = {
  units: z.int().min(0).optional(),
  percent: z.number().min(0).max(100).optional(),
};

// A rule without units or percent would hold back (or cap at) nothing: surely a mistake.
function needsQuantity(
  rule: { units?: number | undefined; percent?: number | undefined },
  ctx: z.RefinementCtx,
): void {
  if (rule.units === undefined && rule.percent === undefined) {
    ctx.addIssue({ code: 'custom', path: [], message: 'expected units, percent or both' });
  }
}

// Product attributes a rule matches (ProductInput.attributes): every listed key=value.
const attributes = z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), z.string()).optional();

const selector = {
  channel: id.optional(),
  locationType: label.optional(),
  location: id.optional(),
  sku: id.optional(),
  skuGroup: label.optional(),
  attributes,
};
type Selector = Partial<
  Record<Exclude<keyof typeof selector, 'attributes'>, string | undefined> & {
    attributes: Readonly<Record<string, string>> | undefined;
  }
>;

const channel = z.strictObject({
  id,
  priority: z.int().min(1),
  reservationTtlMs: z.int().min(1_000).optional(),
});

const LISTS = ['buffers', 'exclusions', 'caps', 'pickupBuffers'] as const;

const shape = z.strictObject({
  channels: z
    .array(channel)
    .min(1)
    .prefault([{ id: 'web', priority: 1 }]),
  buffers: z
    .array(z.strictObject({ ...selector, ...quantity }).superRefine(needsQuantity))
    .prefault([]),
  exclusions: z.array(z.strictObject({ ...selector, channel: id })).prefault([]),
  caps: z
    .array(
      z
        .strictObject({
          channel: id,
          sku: id.optional(),
          skuGroup: label.optional(),
          attributes,
          ...quantity,
        })
        .superRefine(needsQuantity),
    )
    .prefault([]),
  pickupBuffers: z
    .array(
      z
        .strictObject({ location: id.optional(), locationType: label.optional(), ...quantity })
        .superRefine(needsQuantity),
    )
    .prefault([]),
});

// The engine refuses all of these too, but one at a time and only once it starts. Each list is
// checked on its own, so a broken rule in one list does not hide the findings in another.
let checked = shape.superRefine(
  (r, ctx) => {
    forEachDuplicate(
      r.channels.map((c) => c.id),
      (index, first) => {
        ctx.addIssue({
          code: 'custom',
          path: ['channels', index, 'id'],
          message: `duplicate channel: the same as rules.channels.${first}.id`,
        });
      },
    );
  },
  { when: whenReadable(['channels', '*', 'id']) },
);
for (const list of LISTS) {
  checked = checked.superRefine(
    (r, ctx) => {
      const known = new Set(r.channels.map((c) => c.id));
      const selectors: readonly Selector[] = r[list];
      selectors.forEach((rule, index) => {
        if (rule.channel !== undefined && !known.has(rule.channel)) {
          ctx.addIssue({
            code: 'custom',
            path: [list, index, 'channel'],
            message: `expected one of the channels in rules.channels (${[...known].join(', ')})`,
          });
        }
      });
      forEachDuplicate(selectors.map(selectorKey), (index, first) => {
        ctx.addIssue({
          code: 'custom',
          path: [list, index],
          message: `names the same channel/location/sku fields as rules.${list}.${first}; the engine cannot tell two such rules apart`,
        });
      });
    },
    {
      when: whenReadable(
        ['channels', '*', 'id'],
        ...Object.keys(selector).map((field) => [list, '*', field]),
      ),
    },
  );
}
export const rules = checked;

function selectorKey(rule: Selector): string {
  const named = Object.entries(rule.attributes ?? {}).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return JSON.stringify([
    rule.channel,
    rule.locationType,
    rule.location,
    rule.sku,
    rule.skuGroup,
    named,
  ]);
}
