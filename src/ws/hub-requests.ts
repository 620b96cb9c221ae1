/**
 * What the hub does for each valid client message. Permission checks use the principal
 * from connect time (the same patterns as the HTTP API); an error is a reply on the
 * connection, which stays usable.
 */
import { canReadCursor } from '../broker/types.js';
import { assertChannelAccess } from '../core/auth.js';
import { SluiceError } from '../core/errors.js';
import { ChannelSubscription, type ChannelHost } from './hub-channel.js';
import type {
  ClientMessage,
  PresenceQueryMessage,
  PublishMessage,
  RequestId,
  SubscribeMessage,
  UnsubscribeMessage,
} from './protocol.js';
import { assertJsonData } from './protocol-parse.js';
import { checkSchema } from './standard-schema.js';
import type { SubscriptionTable } from './subscription-table.js';

export interface RequestContext extends ChannelHost {
  readonly subscriptions: SubscriptionTable<ChannelSubscription>;
  readonly isClosing: boolean;
  replyError(error: unknown, rid?: RequestId, channel?: string): void;
}

export async function handleRequest(ctx: RequestContext, message: ClientMessage): Promise<void> {
  if (ctx.isClosing) return;
  const rid = message.rid;
  const channel = message.type === 'ping' ? undefined : message.channel;
  try {
    switch (message.type) {
      case 'ping':
        ctx.send({ type: 'pong', ...(rid === undefined ? {} : { rid }) });
        return;
      case 'subscribe':
        return await subscribe(ctx, message);
      case 'unsubscribe':
        return await unsubscribe(ctx, message);
      case 'publish':
        return await publish(ctx, message);
      case 'presence':
        return await presence(ctx, message);
    }
  } catch (error) {
    ctx.replyError(error, rid, channel);
  }
}

function ack(
  ctx: RequestContext,
  rid: RequestId | undefined,
  fields: { channel: string; id?: string },
): void {
  if (rid !== undefined) ctx.send({ type: 'ack', rid, ...fields });
}

/**
 * Subscribing again to a channel already subscribed restarts delivery from the new `since`
 * (no "already subscribed" error: a client that lost track simply converges).
 */
async function subscribe(ctx: RequestContext, message: SubscribeMessage): Promise<void> {
  const { channel } = message;
  assertChannelAccess(ctx.principal, 'subscribe', channel);
  let subscription = ctx.subscriptions.get(channel);
  if (!subscription) {
    if (ctx.subscriptions.size >= ctx.options.maxSubscriptions) {
      throw new SluiceError(
        'ws_subscription_limit',
        `At most ${ctx.options.maxSubscriptions} subscriptions per connection`,
      );
    }
    subscription = new ChannelSubscription(ctx, channel, ctx.options.policyFor(channel));
    ctx.subscriptions.set(subscription);
    try {
      await subscription.join();
    } catch (error) {
      ctx.subscriptions.delete(channel);
      throw error;
    }
    if (ctx.isClosing) {
      await subscription.stop(); // closed while joining: cleanup already ran without us
      return;
    }
  }
  // The ack goes first: a `gap` and replayed events follow it, then live ones. A live
  // subscription's ack carries the id it starts after (taken in the same synchronous step as
  // it starts), so the client can resume from it even if the connection drops before its
  // first event; without it, what was published during the drop would be lost unannounced.
  const broker = ctx.options.broker;
  const startsAfter =
    message.since === undefined && canReadCursor(broker)
      ? broker.channelCursor(channel)
      : undefined;
  ack(ctx, message.rid, startsAfter === undefined ? { channel } : { channel, id: startsAfter });
  subscription.startEvents(message.since);
  if (message.presence) subscription.startPresence();
}

async function unsubscribe(ctx: RequestContext, message: UnsubscribeMessage): Promise<void> {
  const subscription = ctx.subscriptions.get(message.channel);
  if (!subscription) {
    throw new SluiceError('ws_not_subscribed', `Not subscribed to "${message.channel}"`);
  }
  ctx.subscriptions.delete(message.channel);
  await subscription.stop();
  ack(ctx, message.rid, { channel: message.channel });
}

async function publish(ctx: RequestContext, message: PublishMessage): Promise<void> {
  const { channel } = message;
  assertChannelAccess(ctx.principal, 'publish', channel);
  let data = message.data;
  const schema = ctx.options.policyFor(channel).schema;
  if (schema) {
    const result = await checkSchema(schema, data);
    if (!result.ok) throw new SluiceError('ws_validation_failed', result.message);
    try {
      // Schemas may transform; what they return must still be plain JSON.
      assertJsonData(result.value);
    } catch (error) {
      throw new SluiceError('ws_validation_failed', 'The schema output is not plain JSON', {
        cause: error,
      });
    }
    data = result.value;
  }
  if (ctx.isClosing) return;
  const id = await ctx.options.broker.publish(
    channel,
    message.event === undefined ? { data } : { data, event: message.event },
  );
  ack(ctx, message.rid, { channel, id });
}

async function presence(ctx: RequestContext, message: PresenceQueryMessage): Promise<void> {
  const { channel } = message;
  // Seeing who is in a channel needs the right to subscribe to it.
  assertChannelAccess(ctx.principal, 'subscribe', channel);
  const members = await ctx.options.broker.members(channel);
  ctx.send({
    type: 'presence',
    channel,
    members,
    ...(message.rid === undefined ? {} : { rid: message.rid }),
  });
}
