/**
 * Turns a received frame into validated server messages. Undecodable frames and invalid
 * messages are reported and skipped (the connection stays usable); unknown message types
 * are skipped silently, since a newer server may speak a superset of this protocol.
 */
import { SluiceError, isSluiceError, type SluiceErrorCode } from '../core/errors.js';
import { parseServerMessage } from '../ws/protocol-parse.js';
import type { ServerMessage, WireCodec } from '../ws/protocol.js';

export function decodeServerFrame(
  codec: WireCodec,
  data: unknown,
  report: (error: unknown) => void,
): ServerMessage[] {
  let values: unknown[];
  try {
    const frame = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
    if (typeof frame !== 'string' && !(frame instanceof Uint8Array)) {
      throw new SluiceError('ws_bad_message', 'Unexpected frame type');
    }
    values = codec.decode(frame);
  } catch (error) {
    report(error);
    return [];
  }
  const messages: ServerMessage[] = [];
  for (const value of values) {
    try {
      messages.push(parseServerMessage(value));
    } catch (error) {
      if (!isSluiceError(error, 'ws_unknown_type')) report(error);
    }
  }
  return messages;
}

/** A server `error` reply as a SluiceError carrying the server's code. */
export function serverError(message: { code: string; message: string } | undefined): SluiceError {
  if (!message) return new SluiceError('ws_bad_message', 'Reply without a request id');
  // The hub only sends SluiceError codes; a code this client does not know still passes
  // through unchanged so callers can log it.
  return new SluiceError(message.code as SluiceErrorCode, message.message, {
    details: { server: true },
  });
}
