// The packet layer: zero-copy IPv4/TCP views, options, checksums, builders, seq math, classify.
export * from './seq.js';
export * from './checksum.js';
export * from './ipv4.js';
export * from './tcp.js';
export * from './options.js';
export * from './classify.js';
export * from './build.js';
export * from './rewrite.js';
export * from './segment.js';
export * from './slice.js';
