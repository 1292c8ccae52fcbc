// The session engine: captured client packets + interceptor records in, packets and outcomes out.
export * from './engine.js';
export * from './types.js';
export * from './stats.js';
export type { SessionInfo } from './types.js';
