export { ExchangeCollector, type CollectorOptions } from './collector.js';
