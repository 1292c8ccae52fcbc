export * from './constants.js';
export * from './messages.js';
export * from './message-decoder.js';
export * from './record.js';
export * from './frame.js';
export * from './frame-pool.js';
export * from './bytes.js';
export * from './extension.js';
