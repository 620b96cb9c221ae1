/**
 * The broker contract: one suite every Broker implementation passes (memory now, Redis
 * later). Usage, in a `*.test.ts` file:
 *
 *   brokerContract('memory', (options) => createMemoryBroker(options));
 *
 * The factory receives history limits, a clock and an epoch; each test makes its own
 * broker(s) and the suite closes them afterwards. Channel names are unique per test, so a
 * suite may share one external server.
 */
import { afterEach, describe } from 'vitest';
import type { Broker } from '../../src/broker/index.js';
import type {
  BrokerContractOptions,
  BrokerFactory,
  BrokerFactoryOptions,
} from './contract-helpers.js';
import { liveContract } from './contract-live.js';
import { presenceContract } from './contract-presence.js';
import { replayContract } from './contract-replay.js';

export type {
  BrokerContractOptions,
  BrokerFactory,
  BrokerFactoryOptions,
} from './contract-helpers.js';

export interface ContractContext {
  /** A fresh broker, closed after the test. */
  make: (options?: BrokerFactoryOptions) => Promise<Broker>;
  options: BrokerContractOptions;
}

export function brokerContract(
  name: string,
  factory: BrokerFactory,
  options: BrokerContractOptions = {},
): void {
  describe(`broker contract: ${name}`, () => {
    const made: Broker[] = [];
    afterEach(async () => {
      await Promise.all(made.splice(0).map((broker) => broker.close()));
    });
    const context: ContractContext = {
      make: async (factoryOptions = {}) => {
        const broker = await factory(factoryOptions);
        made.push(broker);
        return broker;
      },
      options,
    };
    liveContract(context);
    replayContract(context);
    presenceContract(context);
  });
}
