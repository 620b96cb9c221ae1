/**
 * A broker reduced to the `Broker` contract: no `publishSync` (every publish is a promise)
 * and subscriptions that are plain async iterators (no `poll`/`onReadable`). What any other
 * broker implementation may be, for testing the paths that must not rely on the memory
 * broker's extra capabilities.
 */
import type { Broker, SubscriptionItem } from '../../src/broker/types.js';

export function contractOnlyBroker(broker: Broker): Broker {
  return {
    publish: (channel, input) => broker.publish(channel, input),
    subscribe: (channel, options) => {
      const inner = broker.subscribe(channel, options)[Symbol.asyncIterator]();
      const iterator: AsyncIterableIterator<SubscriptionItem> = {
        next: () => inner.next(),
        return: async () => (await inner.return?.()) ?? { done: true, value: undefined },
        [Symbol.asyncIterator]: () => iterator,
      };
      return iterator;
    },
    history: (channel, options) => broker.history(channel, options),
    join: (channel, member) => broker.join(channel, member),
    leave: (channel, clientId) => broker.leave(channel, clientId),
    members: (channel) => broker.members(channel),
    presence: (channel, options) => broker.presence(channel, options),
    close: () => broker.close(),
  };
}
