export * from './engine.js';
export * from './options.js';
export * from './stats.js';
export * from './routes.js';
export * from './delay.js';
export * from './hash.js';
