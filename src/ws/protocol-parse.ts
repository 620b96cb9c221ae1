/**
 * Validation of decoded protocol messages, both directions. A decoded frame is untrusted:
 * every field is checked by name and copied into a fresh object (never merged), and
 * published `data` must be plain JSON without `__proto__` keys or `constructor.prototype`
 * chains, so nothing downstream (including a user's own deep-merge) can be polluted.
 * Failures throw a SluiceError whose `details.rid` carries the request id when it was
 * readable, so the hub can address its `error` reply.
 */
import { isValidChannelName, assertEventName } from '../core/channel.js';
import { SluiceError, isSluiceError, truncate, type SluiceErrorCode } from '../core/errors.js';
import {
  PROTOCOL_DEFAULTS,
  SERVER_MESSAGE_TYPES,
  type ClientMessage,
  type RequestId,
  type ServerMessage,
} from './protocol.js';

type Fields = Record<string, unknown>;

function isPlainObject(value: unknown): value is Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function fail(code: SluiceErrorCode, message: string, rid?: RequestId): SluiceError {
  return new SluiceError(code, message, rid === undefined ? {} : { details: { rid } });
}

function readRequestId(fields: Fields): RequestId | undefined {
  const rid = fields.rid;
  if (rid === undefined) return undefined;
  if (
    typeof rid === 'string' &&
    rid.length > 0 &&
    rid.length <= PROTOCOL_DEFAULTS.maxRequestIdLength
  )
    return rid;
  if (typeof rid === 'number' && Number.isSafeInteger(rid)) return rid;
  throw fail(
    'ws_bad_message',
    `"rid" is a string of 1-${PROTOCOL_DEFAULTS.maxRequestIdLength} characters or a safe integer`,
  );
}

function readChannel(fields: Fields, rid: RequestId | undefined): string {
  const channel = fields.channel;
  if (typeof channel !== 'string' || !isValidChannelName(channel)) {
    throw fail(
      'invalid_channel',
      'Channel names are 1-128 characters of A-Z a-z 0-9 _ - . : @',
      rid,
    );
  }
  return channel;
}

function readOptionalString(
  fields: Fields,
  name: string,
  maxLength: number,
  rid: RequestId | undefined,
): string | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw fail('ws_bad_message', `"${name}" is a string of 1-${maxLength} characters`, rid);
  }
  return value;
}

/**
 * Throws unless `value` is plain JSON: null, booleans, finite numbers, strings, arrays and
 * plain objects, nested at most `maxDepth` deep, with no `__proto__` key anywhere and no
 * `constructor` object that holds a `prototype` key (the two prototype-pollution shapes).
 */
export function assertJsonData(
  value: unknown,
  maxDepth: number = PROTOCOL_DEFAULTS.maxDepth,
): void {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const current = item.value;
    if (current === null || typeof current === 'string' || typeof current === 'boolean') continue;
    if (typeof current === 'number') {
      if (Number.isFinite(current)) continue;
      throw new SluiceError('ws_bad_message', 'Numbers in data must be finite');
    }
    if (item.depth >= maxDepth) {
      throw new SluiceError('ws_bad_message', `Data is nested more than ${maxDepth} levels`);
    }
    if (Array.isArray(current)) {
      for (const element of current) stack.push({ value: element, depth: item.depth + 1 });
      continue;
    }
    if (!isPlainObject(current)) {
      throw new SluiceError('ws_bad_message', 'Data must be JSON: no binary, dates or extensions');
    }
    for (const key of Object.keys(current)) {
      const child = current[key];
      if (
        key === '__proto__' ||
        (key === 'constructor' && isPlainObject(child) && 'prototype' in child)
      ) {
        throw new SluiceError('ws_bad_message', `Key "${key}" is not allowed in data`);
      }
      stack.push({ value: child, depth: item.depth + 1 });
    }
  }
}

/** Validates one decoded client message. Throws a SluiceError (see the module comment). */
export function parseClientMessage(value: unknown): ClientMessage {
  if (!isPlainObject(value)) {
    throw fail('ws_bad_message', 'A message is an object with a "type" field');
  }
  const rid = readRequestId(value);
  const type = value.type;
  if (typeof type !== 'string') throw fail('ws_bad_message', 'Missing "type" field', rid);
  const withRid = rid === undefined ? {} : { rid };
  switch (type) {
    case 'ping':
      return { type, ...withRid };
    case 'subscribe': {
      const channel = readChannel(value, rid);
      const since = readOptionalString(value, 'since', PROTOCOL_DEFAULTS.maxCursorLength, rid);
      const presence = value.presence;
      if (presence !== undefined && typeof presence !== 'boolean') {
        throw fail('ws_bad_message', '"presence" is a boolean', rid);
      }
      return {
        type,
        channel,
        ...(since === undefined ? {} : { since }),
        ...(presence === true ? { presence } : {}),
        ...withRid,
      };
    }
    case 'unsubscribe':
    case 'presence':
      return { type, channel: readChannel(value, rid), ...withRid };
    case 'publish': {
      const channel = readChannel(value, rid);
      if (!('data' in value) || value.data === undefined) {
        throw fail('ws_bad_message', 'A publish carries "data"', rid);
      }
      const event = value.event;
      if (event !== undefined) {
        if (typeof event !== 'string') throw fail('invalid_event_name', '"event" is a string', rid);
        rethrowWithRid(() => assertEventName(event), rid);
      }
      rethrowWithRid(() => assertJsonData(value.data), rid);
      return {
        type,
        channel,
        data: value.data,
        ...(event === undefined ? {} : { event }),
        ...withRid,
      };
    }
    default:
      throw fail('ws_unknown_type', `Unknown message type "${truncate(type, 40)}"`, rid);
  }
}

function rethrowWithRid(check: () => void, rid: RequestId | undefined): void {
  try {
    check();
  } catch (error) {
    if (isSluiceError(error)) throw fail(error.code, error.message, rid);
    throw error;
  }
}

/**
 * Validates one decoded server message, for clients: the type is known and the fields a
 * client relies on have the right types. Unknown extra fields are ignored (forward
 * compatibility); unknown types throw `ws_unknown_type` so a client can skip them.
 */
export function parseServerMessage(value: unknown): ServerMessage {
  if (!isPlainObject(value) || typeof value.type !== 'string') {
    throw fail('ws_bad_message', 'A message is an object with a "type" field');
  }
  const type = value.type as ServerMessage['type'];
  if (!SERVER_MESSAGE_TYPES.includes(type)) {
    throw fail('ws_unknown_type', `Unknown message type "${truncate(type, 40)}"`);
  }
  const need = (name: string, kind: 'string' | 'number' | 'object'): void => {
    const field = value[name];
    if (kind === 'object' ? typeof field !== 'object' || field === null : typeof field !== kind) {
      throw fail('ws_bad_message', `"${type}" message without a valid "${name}"`);
    }
  };
  switch (type) {
    case 'welcome':
      need('clientId', 'string');
      need('maxPayload', 'number');
      break;
    case 'event':
      need('channel', 'string');
      need('id', 'string');
      break;
    case 'ack':
      if (typeof value.rid !== 'string' && typeof value.rid !== 'number') need('rid', 'string');
      if (value.id !== undefined) need('id', 'string');
      break;
    case 'error':
      need('code', 'string');
      need('message', 'string');
      break;
    case 'gap':
      need('channel', 'string');
      need('reason', 'string');
      break;
    case 'presence':
      need('channel', 'string');
      if (!Array.isArray(value.members)) need('members', 'object');
      break;
    case 'join':
    case 'leave':
      need('channel', 'string');
      need('member', 'object');
      break;
    case 'pong':
      break;
  }
  // The checks above establish the shape a client relies on; the rest is passed through.
  return value as unknown as ServerMessage;
}
