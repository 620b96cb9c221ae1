/**
 * How one broker item reaches a connection's outbound queue under its channel's policy,
 * and how a full `disconnect` connection waits for room. Shared by the hub's shared
 * per-channel stream and by a subscription's own stream (hub-channel.ts).
 */
import type { SubscriptionItem } from '../broker/types.js';
import { eventFrame } from './event-frame.js';
import type { ChannelHost } from './hub-channel.js';
import type { ResolvedChannelPolicy } from './hub-options.js';
import type { OutboundItem } from './outbound-queue.js';

/**
 * Places one broker item: a gap notice, or an event's frame. Returns the outbound item when
 * a `disconnect` channel's connection is full (the caller waits), else undefined (queued,
 * conflated, or dropped by policy).
 */
export function placeItem(
  host: ChannelHost,
  channel: string,
  policy: ResolvedChannelPolicy,
  item: SubscriptionItem,
): OutboundItem | undefined {
  if (item.type === 'gap') {
    host.send({
      type: 'gap',
      channel: item.channel,
      reason: item.reason,
      requested: item.requested,
      resumeAfter: item.resumeAfter,
    });
    return undefined;
  }
  let frame: Uint8Array;
  try {
    frame = eventFrame(host.codec, item.message);
  } catch (error) {
    // Server-side publishers may hand the broker values JSON/MessagePack cannot encode
    // (BigInt, cycles): that one event is reported, the subscription goes on.
    host.options.onError(error, { clientId: host.id });
    host.send({
      type: 'error',
      code: 'internal_error',
      message: `Event ${item.message.id} could not be encoded`,
      channel,
    });
    return undefined;
  }
  // Nearly every delivery: nothing queued and room in the socket, so the frame goes
  // straight out (no outbound item to build); every policy agrees on that case.
  if (host.outbound.writeNow(frame)) return undefined;
  const overflow = policy.overflow;
  const outbound: OutboundItem = {
    data: frame,
    channel,
    policy: overflow,
    key: overflow === 'conflate' ? conflateKey(host, policy, item.message.data) : undefined,
  };
  return host.outbound.offer(outbound) === 'full' ? outbound : undefined;
}

/**
 * Waits until `item` fits and offers it: `true` once placed; `false` on abort, or after
 * closing the connection as a slow consumer when no room came within `slowConsumerTimeout`.
 */
export async function waitToDeliver(
  host: ChannelHost,
  item: OutboundItem,
  signal: AbortSignal,
): Promise<boolean> {
  const outbound = host.outbound;
  const timeout = host.options.slowConsumerTimeout;
  const deadline = timeout === null ? null : performance.now() + timeout;
  for (;;) {
    const remaining = deadline === null ? null : deadline - performance.now();
    if (remaining !== null && remaining <= 0) {
      host.slowConsumer();
      return false;
    }
    const room = await outbound.waitForRoom(item.data.byteLength, remaining, signal);
    if (signal.aborted) return false;
    if (!room) {
      host.slowConsumer();
      return false;
    }
    if (outbound.offer(item) !== 'full') return true;
  }
}

function conflateKey(host: ChannelHost, policy: ResolvedChannelPolicy, data: unknown): string {
  const keyOf = policy.conflateKey;
  if (!keyOf) return '';
  try {
    return String(keyOf(data));
  } catch (error) {
    host.options.onError(error, { clientId: host.id });
    return '';
  }
}
