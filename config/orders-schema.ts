import { z } from 'zod';
import { id, label, positive, uniqueField, whenReadable } from './schema-parts.ts';

/**
 * The `orders` section: sourcing profiles and how they are chosen, the sourcing attributes of
 * locations (priority, capacity, shipping cost, webhook), fulfilment deadlines, notifications,
 * the outbox and retention. docs/orders.md and docs/sourcing.md explain the model.
 */

const criterion = z.enum([
  'distance',
  'priority',
  'locationType',
  'stockDepth',
  'shippingCost',
  'capacity',
]);

const split = z.discriminatedUnion('policy', [
  z.strictObject({ policy: z.literal('single') }),
  z.strictObject({ policy: z.literal('maxShipments'), max: positive }),
  z.strictObject({
    policy: z.literal('backorder'),
    maxShipments: positive.nullable().default(null),
  }),
]);

const profile = z.strictObject({
  name: id,
  criteria: z
    .array(z.strictObject({ criterion, weight: z.number().positive().max(1_000_000) }))
    .min(1)
    .superRefine(...uniqueField('criterion', 'criterion', 'criteria')),
  typePreference: z.array(label).prefault([]),
  capacity: z.enum(['skip', 'penalise']).default('penalise'),
  split: split.prefault({ policy: 'maxShipments', max: 2 }),
  maxDistanceKm: z.number().positive().nullable().default(null),
  nearest: positive.nullable().default(null),
});

/** Nearest first, then priority, with a little weight for depth and for a free location. */
function defaultProfile(): z.input<typeof profile> {
  return {
    name: 'default',
    criteria: [
      { criterion: 'distance', weight: 1 },
      { criterion: 'priority', weight: 0.5 },
      { criterion: 'stockDepth', weight: 0.25 },
      { criterion: 'capacity', weight: 0.5 },
    ],
  };
}

const webhook = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
  secret: z.string().min(16),
});

const location = z.strictObject({
  id,
  priority: z.number().default(0),
  dailyCapacity: positive.nullable().default(null),
  shippingCost: z.int().min(0).default(0),
  zoneCosts: z.record(z.string().min(1).max(64), z.int().min(0)).prefault({}),
  webhook: webhook.nullable().default(null),
});

/** A return reason code (docs/returns.md). */
const returnReason = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'expected a snake_case code');

export const orders = z
  .strictObject({
    profiles: z
      .array(profile)
      .min(1)
      .prefault(() => [defaultProfile()])
      .superRefine(...uniqueField('name', 'profile', 'profiles')),
    selection: z
      .array(
        z.strictObject({
          channel: z.union([z.literal('*'), id]).default('*'),
          delivery: z.enum(['ship', 'pickup', 'reservation', '*']).default('*'),
          profile: id,
        }),
      )
      .prefault([]),
    defaultProfile: id.default('default'),
    locations: z
      .array(location)
      .prefault([])
      .superRefine(...uniqueField('id', 'location', 'orders.locations')),
    fulfilment: z
      .strictObject({
        acceptTimeoutMs: z.int().min(1_000).default(900_000),
        maxSourcingAttempts: z.int().min(1).max(20).default(3),
        backorderRetryMs: z.int().min(1_000).default(60_000),
      })
      .prefault({}),
    notifications: z.strictObject({ webhook: webhook.nullable().default(null) }).prefault({}),
    outbox: z
      .strictObject({
        maxInFlight: z.int().min(1).max(10_000).default(64),
        timeoutMs: z.int().min(100).default(5_000),
        backoffBaseMs: z.int().min(10).default(250),
        backoffMaxMs: z.int().min(100).default(60_000),
        pushAckTimeoutMs: z.int().min(100).default(10_000),
      })
      .prefault({})
      .superRefine(
        (o, ctx) => {
          if (o.backoffBaseMs > o.backoffMaxMs) {
            ctx.addIssue({
              code: 'custom',
              path: ['backoffBaseMs'],
              message: `expected at most backoffMaxMs (${o.backoffMaxMs})`,
            });
          }
        },
        { when: whenReadable(['backoffBaseMs'], ['backoffMaxMs']) },
      ),
    returns: z
      .strictObject({
        windowDays: z.int().min(0).max(3_650).default(30),
        reasons: z
          .array(returnReason)
          .min(1)
          .max(100)
          .default([
            'damaged',
            'wrong_item',
            'not_as_described',
            'size',
            'no_longer_needed',
            'other',
          ]),
        restockingFeePercent: z.number().min(0).max(100).default(0),
        feeExemptReasons: z
          .array(returnReason)
          .max(100)
          .default(['damaged', 'wrong_item', 'not_as_described']),
        refundShipping: z.enum(['never', 'when_fully_returned']).default('when_fully_returned'),
        exchangeOn: z.enum(['receipt', 'request']).default('receipt'),
      })
      .prefault({}),
    rankReservations: z.boolean().default(true),
    retainCompletedMs: z.int().min(60_000).default(86_400_000),
  })
  .superRefine(
    (o, ctx) => {
      // Every profile named must exist: a typo would otherwise fall back silently.
      const names = new Set(o.profiles.map((p) => p.name));
      const known = [...names].join(', ');
      if (!names.has(o.defaultProfile)) {
        ctx.addIssue({
          code: 'custom',
          path: ['defaultProfile'],
          message: `expected one of the profiles (${known})`,
        });
      }
      o.selection.forEach((s, index) => {
        if (!names.has(s.profile)) {
          ctx.addIssue({
            code: 'custom',
            path: ['selection', index, 'profile'],
            message: `expected one of the profiles (${known})`,
          });
        }
      });
    },
    {
      when: whenReadable(
        ['profiles', '*', 'name'],
        ['defaultProfile'],
        ['selection', '*', 'profile'],
      ),
    },
  );
