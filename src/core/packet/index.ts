// The packet layer: zero-copy IPv4/TCP views, options, checksums, seq math, classify.
// (Segment builders and field rewriters used only by tests live in test/helpers/packet.)
export * from './seq.js';
export * from './checksum.js';
export * from './ipv4.js';
export * from './tcp.js';
export * from './options.js';
export * from './classify.js';
export * from './segment.js';
