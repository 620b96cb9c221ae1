/**
 * One measurement of the broker-history bench, in a fresh process (`--expose-gc`): fill
 * C channels with M retained messages each, then time full collections and read the heap.
 *
 *   node --expose-gc --import ./bench/fanout/tsc-register.mjs \
 *     bench/broker/history-process.ts <sluice|values> <tokens|objects> <channels> <messages>
 *
 * Prints one JSON line: { publishMicros, gcMs: number[], heapMB, offHeapMB }.
 */
import { createMemoryBroker } from '../../src/broker/memory-broker.js';

const [store, shape, channelsArg, messagesArg] = process.argv.slice(2);
const channels = Number(channelsArg);
const messages = Number(messagesArg);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

/** An LLM generation's delta payload, or a chat-room message as a JSON object. */
function data(channel: number, i: number): unknown {
  return shape === 'tokens'
    ? `{"index":0,"delta":{"content":" token${i % 97}"},"logprobs":null,"finish_reason":null,"n":${channel}}`
    : {
        user: `user-${channel % 50}`,
        text: `message ${i} in room ${channel}`,
        at: 1_700_000_000 + i,
      };
}

/** The baseline: what a history without this design holds, each message an object. */
class ValuesHistory {
  readonly #channels = new Map<string, { id: string; data: unknown; time: number }[]>();
  #next = 0;

  publish(channel: string, message: { data: unknown }): string {
    let list = this.#channels.get(channel);
    if (!list) this.#channels.set(channel, (list = []));
    const id = `e1:${++this.#next}`;
    list.push({ id, data: message.data, time: Date.now() });
    if (list.length > messages) list.shift();
    return id;
  }
}

const broker =
  store === 'sluice'
    ? createMemoryBroker({ historyLimit: messages, maxChannels: channels + 1 })
    : new ValuesHistory();
const publish = (channel: string, message: { data: unknown }): unknown =>
  broker instanceof ValuesHistory
    ? broker.publish(channel, message)
    : broker.publishSync(channel, message);

const cpu0 = process.cpuUsage();
for (let i = 0; i < messages; i++) {
  for (let c = 0; c < channels; c++) publish(`room-${c}`, { data: data(c, i) });
}
const cpu = process.cpuUsage(cpu0);
gc();
gc();
const gcMs: number[] = [];
for (let k = 0; k < 7; k++) {
  const t0 = performance.now();
  gc();
  gcMs.push(performance.now() - t0);
}
const memory = process.memoryUsage();
process.stdout.write(
  `${JSON.stringify({
    publishMicros: (cpu.user + cpu.system) / (channels * messages),
    gcMs,
    heapMB: memory.heapUsed / 2 ** 20,
    offHeapMB: memory.arrayBuffers / 2 ** 20,
    retained:
      broker instanceof ValuesHistory ? channels * messages : broker.stats().retainedMessages,
  })}\n`,
);
