// Offline replay building blocks that do not depend on the session engine.
export * from './pacer.js';
export * from './progress.js';
export * from './selector.js';
