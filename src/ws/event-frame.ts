/**
 * Server messages as complete WebSocket frames, ready for the socket, and the per-format
 * cache that frames a broadcast event once however many connections receive it.
 */
import type { BrokerMessage } from '../broker/types.js';
import type { EventMessage, ServerMessage, WireCodec, WireFormat } from './protocol.js';
import { encodeWsFrame } from './ws-frame.js';

/** A server message as a complete WebSocket frame. */
export function encodeFrame(codec: WireCodec, message: ServerMessage): Uint8Array {
  const payload = codec.encode(message);
  return encodeWsFrame(
    typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload,
    codec.binary,
  );
}

/**
 * The memory broker hands every live subscriber the same message object, so the frame is
 * keyed by it (a replay from history builds its messages per read, and misses). Bounded: the most recent messages only, oldest forgotten first; a miss just
 * encodes again. The last hit per format is checked first: a broadcast asks for the same
 * message once per connection, one after the other.
 */
const FRAME_CACHE_SIZE = 256;

interface FormatCache {
  frames: Map<BrokerMessage, Uint8Array>;
  lastMessage: BrokerMessage | undefined;
  lastFrame: Uint8Array;
}

const caches: Record<WireFormat, FormatCache> = {
  json: { frames: new Map(), lastMessage: undefined, lastFrame: new Uint8Array(0) },
  msgpack: { frames: new Map(), lastMessage: undefined, lastFrame: new Uint8Array(0) },
};

/** The `event` frame for a broker message in `codec`'s format (throws if unencodable). */
export function eventFrame(codec: WireCodec, message: BrokerMessage): Uint8Array {
  const cache = caches[codec.format];
  if (cache.lastMessage === message) return cache.lastFrame;
  let frame = cache.frames.get(message);
  if (frame === undefined) {
    const event: EventMessage = {
      type: 'event',
      channel: message.channel,
      id: message.id,
      data: message.data,
      ...(message.event === undefined ? {} : { event: message.event }),
    };
    frame = encodeFrame(codec, event);
    const frames = cache.frames;
    if (frames.size >= FRAME_CACHE_SIZE) frames.delete(frames.keys().next().value!);
    frames.set(message, frame);
  }
  cache.lastMessage = message;
  cache.lastFrame = frame;
  return frame;
}
