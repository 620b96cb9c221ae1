/**
 * The channels HTTP API (docs/protocol.md):
 *   POST /v1/channels/{channel}/messages   { data, event? } -> 201 { id }
 *   GET  /v1/channels/{channel}/events     SSE; resumes from Last-Event-ID / ?lastEventId=
 * Every event carries its broker id as the SSE `id:`. When history no longer reaches the
 * requested id (or the id is from another epoch) the first event is `event: sluice.gap`.
 */
import {
  canReadCursor,
  type Broker,
  type BrokerMessage,
  type GapSignal,
  type SubscriptionItem,
} from '../broker/types.js';
import type { ChannelAction } from '../core/auth.js';
import { assertChannelName, assertEventName } from '../core/channel.js';
import { checkStreamTimings } from '../core/check-options.js';
import { SluiceError } from '../core/errors.js';
import { encodeEvent, type SseFields } from '../sse/encoder.js';
import { createSseResponse } from '../sse/response.js';
import { encodeUtf8, type SseChunk } from '../sse/sse-pump.js';
import type { RequestContext, RouteHandler } from './handler.js';
import { readJsonBody } from './read-body.js';

export interface ChannelsHandlerOptions {
  broker: Broker;
  /** Largest accepted publish body, bytes. */
  maxBodySize?: number;
  /** SSE settings for channel streams. */
  keepAlive?: number | null;
  stallTimeout?: number | null;
  retry?: number | null;
  /** Told when an event stream opens (`true`) and closes (`false`), for counters. */
  onStream?: (open: boolean) => void;
  /** Throws a SluiceError (401/403) when the request may not do this on this channel. */
  authorize?: (request: Request, action: ChannelAction, channel: string) => Promise<unknown>;
}

export const CHANNELS_DEFAULTS = Object.freeze({
  maxBodySize: 1024 * 1024,
});

/** The SSE event name of the gap signal (reserved prefix `sluice.`). */
export const GAP_EVENT = 'sluice.gap';
/**
 * Opens a live subscription (no Last-Event-ID): its `id` is where the stream starts, so a
 * client that loses the connection before the first event still resumes with it and misses
 * nothing. A named event: `onmessage` handlers never see it, and clients that hand every
 * event to one callback (fetch-event-source) get JSON data, like every other event here.
 */
export const OPEN_EVENT = 'sluice.open';

const ROUTE = /^\/v1\/channels\/([^/]+)\/(messages|events)$/;

export function createChannelsHandler(options: ChannelsHandlerOptions): RouteHandler {
  const maxBodySize = options.maxBodySize ?? CHANNELS_DEFAULTS.maxBodySize;
  checkStreamTimings(options);
  return async (request, context) => {
    const match = ROUTE.exec(new URL(request.url).pathname);
    if (!match) return undefined;
    const channel = decodeChannel(match[1]!);
    const kind = match[2];
    if (kind === 'messages') {
      if (request.method !== 'POST') throw methodNotAllowed('POST');
      await options.authorize?.(request, 'publish', channel);
      return publish(request, channel, options.broker, maxBodySize);
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') throw methodNotAllowed('GET');
    await options.authorize?.(request, 'subscribe', channel);
    const response = subscribe(request, context, channel, options);
    options.onStream?.(true);
    return response;
  };
}

async function publish(
  request: Request,
  channel: string,
  broker: Broker,
  maxBodySize: number,
): Promise<Response> {
  const body = await readJsonBody(request, maxBodySize);
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !('data' in body)) {
    throw new SluiceError('bad_request', 'The body must be a JSON object with a "data" field', {
      status: 400,
    });
  }
  const { data, event } = body as { data: unknown; event?: unknown };
  if (event !== undefined && typeof event !== 'string') {
    throw new SluiceError('invalid_event_name', '"event" must be a string', { status: 400 });
  }
  if (event !== undefined) assertEventName(event);
  const id = await broker.publish(channel, event === undefined ? { data } : { data, event });
  return Response.json({ id }, { status: 201 });
}

function subscribe(
  request: Request,
  context: RequestContext,
  channel: string,
  options: ChannelsHandlerOptions,
): Response {
  return createSseResponse(
    // No signal for the subscription: the stream ends it with return(), so it needs no
    // abort listener (and the stream then makes no AbortController for it).
    ({ lastEventId, open }) => {
      const { broker } = options;
      if (lastEventId !== undefined) return broker.subscribe(channel, { since: lastEventId });
      // Read in the same synchronous step as the subscription starts: nothing falls between.
      if (canReadCursor(broker)) {
        const id = broker.channelCursor(channel);
        open({ event: OPEN_EVENT, id, data: JSON.stringify({ channel, resumeAfter: id }) });
      }
      return broker.subscribe(channel);
    },
    {
      map: toSseChunk,
      onClose: () => options.onStream?.(false),
      request,
      signal: context.signal,
      httpVersion: context.httpVersion,
      ...(options.keepAlive === undefined ? {} : { keepAlive: options.keepAlive }),
      ...(options.stallTimeout === undefined ? {} : { stallTimeout: options.stallTimeout }),
      ...(options.retry === undefined ? {} : { retry: options.retry }),
    },
  );
}

/**
 * Broker items as encoded SSE events. A live message is encoded once and the bytes are
 * shared by every subscriber it is delivered to (the broker hands all of them the same
 * message object); the cache lets go of them with the message. A replay from history gets
 * a message object built for that read, so replayed events are encoded per subscriber.
 */
const encoded = new WeakMap<BrokerMessage, Uint8Array>();

export function toSseChunk(item: SubscriptionItem): SseChunk {
  if (item.type === 'gap') return gapEvent(item);
  let bytes = encoded.get(item.message);
  if (!bytes) {
    bytes = encodeUtf8(encodeEvent(messageEvent(item.message)));
    encoded.set(item.message, bytes);
  }
  return bytes;
}

export function messageEvent(message: BrokerMessage): SseFields {
  const fields: SseFields = { id: message.id, data: JSON.stringify(message.data) ?? 'null' };
  if (message.event !== undefined) fields.event = message.event;
  return fields;
}

/**
 * The gap event carries the id the stream resumes after (when there is one), so a client
 * that reconnects right after it does not receive the same gap twice.
 */
export function gapEvent(gap: GapSignal): SseFields {
  const data = JSON.stringify({
    channel: gap.channel,
    reason: gap.reason,
    requested: gap.requested,
    resumeAfter: gap.resumeAfter,
  });
  return gap.resumeAfter === null
    ? { event: GAP_EVENT, data }
    : { event: GAP_EVENT, id: gap.resumeAfter, data };
}

function decodeChannel(raw: string): string {
  let channel: string;
  try {
    channel = decodeURIComponent(raw);
  } catch {
    channel = raw;
  }
  assertChannelName(channel);
  return channel;
}

function methodNotAllowed(allowed: string): SluiceError {
  return new SluiceError('method_not_allowed', `Use ${allowed} on this path`, {
    status: 405,
    details: { allow: allowed },
  });
}
