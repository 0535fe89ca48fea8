// The gateway's public face: the composition root, benchmarks and tests import only this.
export { createGateway } from './gateway.ts';
export type { Gateway, GatewayConfig, GatewayExtras } from './gateway.ts';
export type { Readiness } from './context.ts';
export { LocationPush } from './location-push.ts';
export type { LocationPushOptions } from './location-push.ts';
export { WS_PROTOCOL } from './auth.ts';
export { FRAME_LIMITS } from './frame-codec.ts';
export { MAX_BATCH_OPS, MAX_TOPICS_PER_REQUEST } from './message-schemas.ts';
export { RedisStreamFeed } from './stream-feed.ts';
export type { StreamFeedHealth } from './stream-feed.ts';
