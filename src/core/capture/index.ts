export * from './errors.js';
export * from './link-types.js';
export * from './record.js';
export * from './reader.js';
export * from './timestamp.js';
export * from './pcap-writer.js';
export * from './pcapng-writer.js';
