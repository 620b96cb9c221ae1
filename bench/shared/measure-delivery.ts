/**
 * One measured fan-out run, the same for every server under test: arm the client load,
 * read the server's CPU, publish at the scenario's rate while the clients count arrivals,
 * read the CPU again, let things settle. Shared so the SSE and WebSocket benches measure
 * exactly the same quantities and their figures read side by side.
 */
import type {
  ArmCommand,
  CpuCommand,
  CpuReply,
  DeliveryClientReply,
  PublishCommand,
  PublishedReply,
} from './delivery-protocol.js';

export interface DeliveryScenario {
  clients: number;
  /** Messages published per second on the channel. */
  rate: number;
  /** Messages per measured run. */
  count: number;
}

export interface DeliveryRun {
  delivered: number;
  expected: number;
  perSecond: number;
  p50: number;
  p99: number;
  cpuPerDelivery: number;
  /** The kernel's share (system time) of `cpuPerDelivery`: on loopback, sending is costly. */
  systemPerDelivery: number;
  clientCpuPerDelivery: number;
}

/** What the run step asks of a helper process (bench/fanout/child.ts's `Child`). */
interface Asks<Command, Reply extends { type: string }> {
  ask<T extends Reply['type']>(
    command: Command | null,
    type: T,
    timeout?: number,
  ): Promise<Extract<Reply, { type: T }>>;
}

export type DeliveryServer = Asks<CpuCommand | PublishCommand, CpuReply | PublishedReply>;
export type DeliveryClient = Asks<ArmCommand, DeliveryClientReply>;

/** Quiet time after a run, so sockets and the collector settle before the next server's. */
const SETTLE_MS = 250;

export async function measureDelivery(
  server: DeliveryServer,
  client: DeliveryClient,
  scenario: DeliveryScenario,
): Promise<DeliveryRun> {
  const expected = scenario.clients * scenario.count;
  const window = (scenario.count / scenario.rate) * 1000;
  // The client gives up (and reports what arrived) well before the parent does.
  await client.ask({ type: 'arm', expected, timeout: window + 10_000 }, 'armed');
  const before = await server.ask({ type: 'cpu' }, 'cpu');
  const [published, result] = await Promise.all([
    server.ask(
      { type: 'publish', count: scenario.count, rate: scenario.rate },
      'published',
      window + 20_000,
    ),
    client.ask(null, 'done', window + 20_000),
  ]);
  const after = await server.ask({ type: 'cpu' }, 'cpu');
  const cpu = after.user - before.user + (after.system - before.system);
  const delivered = Math.max(1, result.delivered);
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  return {
    delivered: result.delivered,
    expected,
    perSecond: result.delivered / ((result.lastAt - published.startedAt) / 1000),
    p50: result.p50,
    p99: result.p99,
    cpuPerDelivery: cpu / delivered,
    systemPerDelivery: (after.system - before.system) / delivered,
    clientCpuPerDelivery: result.cpuMicros / delivered,
  };
}
