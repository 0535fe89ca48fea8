// The config folder's public face: the gateway, persistence and benchmarks import only this.
export { loadConfig } from './load-config.ts';
export type { LoadConfigOptions } from './load-config.ts';
export { ConfigError } from './config-error.ts';
export type { ConfigIssue } from './config-error.ts';
export { createLogger } from './logger.ts';
export type {
  ApiKeyConfig,
  ApiKeyRole,
  AuthConfig,
  Config,
  EngineConfig,
  LocationConfig,
  LogConfig,
  LogLevel,
  OrdersConfig,
  PersistenceConfig,
  ProductConfig,
  RedisStreamFeedConfig,
  RulesConfig,
  ServerConfig,
  SettlementConfig,
} from './schema.ts';
