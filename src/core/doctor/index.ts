export * from './types.js';
export * from './caps.js';
export * from './rules.js';
export * from './nfqueue.js';
export * from './route.js';
export * from './local.js';
export * from './flags.js';
