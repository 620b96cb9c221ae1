export type * from './types.js';
export {
  MemoryBroker,
  createMemoryBroker,
  MEMORY_BROKER_DEFAULTS,
  type MemoryBrokerOptions,
  type MemoryBrokerStats,
} from './memory-broker.js';
