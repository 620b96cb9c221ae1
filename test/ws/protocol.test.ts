import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSluiceError } from '../../src/core/errors.js';
import { CLOSE_CODE_TABLE, CLOSE_CODES, shouldReconnect } from '../../src/ws/close-codes.js';
import {
  PROTOCOL_DEFAULTS,
  codecForSubprotocol,
  jsonCodec,
  msgpackCodec,
  type ClientMessage,
  type ServerMessage,
} from '../../src/ws/protocol.js';
import {
  assertJsonData,
  parseClientMessage,
  parseServerMessage,
} from '../../src/ws/protocol-parse.js';

function errorOf(fn: () => unknown): { code: string; rid: unknown } {
  try {
    fn();
  } catch (error) {
    if (isSluiceError(error)) return { code: error.code, rid: error.details?.rid };
    throw error;
  }
  throw new Error('expected a SluiceError');
}

// fast-check generates "__proto__" keys too; those are refused on purpose (tested below).
const jsonValue = fc
  .jsonValue({ maxDepth: 4 })
  .map((v) => JSON.stringify(v))
  .filter((text) => !text.includes('"__proto__"'))
  .map((text) => JSON.parse(text) as unknown);

describe('codec', () => {
  const messages: ClientMessage[] = [
    { type: 'subscribe', channel: 'chat:lobby', since: 'abc:1', presence: true, rid: 1 },
    { type: 'unsubscribe', channel: 'chat:lobby', rid: 'x' },
    { type: 'publish', channel: 'ticker', data: { p: 1.5, s: ['a'] }, event: 'tick' },
    { type: 'presence', channel: 'room' },
    { type: 'ping' },
  ];

  for (const codec of [jsonCodec, msgpackCodec]) {
    it(`${codec.format}: round-trips single messages and batches`, () => {
      for (const message of messages) {
        expect(codec.decode(codec.encode(message)).map(parseClientMessage)).toEqual([message]);
      }
      expect(codec.decode(codec.encode(messages)).map(parseClientMessage)).toEqual(messages);
    });

    it(`${codec.format}: round-trips any JSON data in a publish`, () => {
      fc.assert(
        fc.property(jsonValue, (data) => {
          const message: ClientMessage = { type: 'publish', channel: 'c', data };
          const [decoded] = codec.decode(codec.encode(message)).map(parseClientMessage);
          expect(decoded).toEqual(message);
        }),
      );
    });

    it(`${codec.format}: rejects the wrong frame kind and oversized batches`, () => {
      const wrongKind = codec.binary ? '{"type":"ping"}' : new Uint8Array([0x80]);
      expect(errorOf(() => codec.decode(wrongKind)).code).toBe('ws_bad_message');
      const batch = Array.from({ length: PROTOCOL_DEFAULTS.maxBatch + 1 }, () => ({
        type: 'ping' as const,
      }));
      expect(errorOf(() => codec.decode(codec.encode(batch))).code).toBe('ws_bad_message');
      expect(errorOf(() => codec.decode(codec.encode([]))).code).toBe('ws_bad_message');
    });
  }

  it('json: malformed text is a bad message', () => {
    expect(errorOf(() => jsonCodec.decode('{"type":')).code).toBe('ws_bad_message');
  });

  it('msgpack: garbage and extension types are rejected', () => {
    expect(errorOf(() => msgpackCodec.decode(new Uint8Array([0xc1]))).code).toBe('ws_bad_message');
    // Extensions (e.g. the timestamp type, which would decode to a Date) are not JSON.
    const withDate = msgpackCodec.encode({
      type: 'publish',
      channel: 'c',
      data: new Date(0),
    } as unknown as ClientMessage);
    expect(errorOf(() => msgpackCodec.decode(withDate)).code).toBe('ws_bad_message');
    // Binary payloads decode to Uint8Array: not JSON either.
    const withBytes = msgpackCodec.encode({
      type: 'publish',
      channel: 'c',
      data: new Uint8Array([1]),
    } as unknown as ClientMessage);
    const decoded = msgpackCodec.decode(withBytes);
    expect(errorOf(() => parseClientMessage(decoded[0])).code).toBe('ws_bad_message');
  });

  it('picks codecs by subprotocol', () => {
    expect(codecForSubprotocol('sluice.v1.json')).toBe(jsonCodec);
    expect(codecForSubprotocol('sluice.v1.msgpack')).toBe(msgpackCodec);
    expect(codecForSubprotocol('sluice.v2.json')).toBeUndefined();
  });
});

describe('parseClientMessage', () => {
  it('keeps the rid on errors when it is readable', () => {
    expect(errorOf(() => parseClientMessage({ type: 'nope', rid: 7 }))).toEqual({
      code: 'ws_unknown_type',
      rid: 7,
    });
    expect(
      errorOf(() => parseClientMessage({ type: 'subscribe', channel: 'a b', rid: 'r' })),
    ).toEqual({
      code: 'invalid_channel',
      rid: 'r',
    });
    expect(errorOf(() => parseClientMessage({ type: 'publish', channel: 'c', rid: 1 })).code).toBe(
      'ws_bad_message',
    );
    expect(errorOf(() => parseClientMessage({ type: 'ping', rid: { a: 1 } })).rid).toBeUndefined();
    expect(errorOf(() => parseClientMessage([])).code).toBe('ws_bad_message');
    expect(errorOf(() => parseClientMessage('ping')).code).toBe('ws_bad_message');
  });

  it('validates event names like the HTTP API', () => {
    const base = { type: 'publish', channel: 'c', data: 1, rid: 2 };
    expect(errorOf(() => parseClientMessage({ ...base, event: 'a\nb' })).code).toBe(
      'invalid_event_name',
    );
    expect(errorOf(() => parseClientMessage({ ...base, event: 'sluice.gap' })).code).toBe(
      'reserved_event_name',
    );
  });

  it('copies known fields only', () => {
    const parsed = parseClientMessage({ type: 'ping', extra: 1, rid: 3 });
    expect(parsed).toEqual({ type: 'ping', rid: 3 });
  });

  it('refuses prototype-pollution shapes in data, at any depth', () => {
    const proto: unknown = JSON.parse(
      '{"type":"publish","channel":"c","data":{"a":[{"__proto__":{"x":1}}]}}',
    );
    expect(errorOf(() => parseClientMessage(proto)).code).toBe('ws_bad_message');
    const ctor: unknown = JSON.parse('{"constructor":{"prototype":{"polluted":true}}}');
    expect(errorOf(() => assertJsonData(ctor)).code).toBe('ws_bad_message');
    // A plain "constructor" key holding a string is ordinary data.
    expect(() => assertJsonData({ constructor: 'Ford' })).not.toThrow();
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('bounds nesting depth and refuses non-finite numbers', () => {
    let deep: unknown = 1;
    for (let i = 0; i < PROTOCOL_DEFAULTS.maxDepth + 1; i++) deep = [deep];
    expect(errorOf(() => assertJsonData(deep)).code).toBe('ws_bad_message');
    expect(errorOf(() => assertJsonData({ n: Number.NaN })).code).toBe('ws_bad_message');
  });
});

describe('parseServerMessage', () => {
  it('accepts every server message shape and rejects unknown types', () => {
    const messages: ServerMessage[] = [
      {
        type: 'welcome',
        protocol: 1,
        clientId: 'c1',
        subject: 'anonymous',
        heartbeat: 25000,
        maxPayload: 65536,
      },
      { type: 'event', channel: 'c', id: 'e:1', data: null },
      { type: 'ack', rid: 1, id: 'e:2' },
      { type: 'error', code: 'forbidden', message: 'no' },
      { type: 'gap', channel: 'c', reason: 'dropped', count: 3 },
      { type: 'pong' },
      { type: 'presence', channel: 'c', members: [] },
      { type: 'join', channel: 'c', member: { clientId: 'x' } },
      { type: 'leave', channel: 'c', member: { clientId: 'x' } },
    ];
    for (const message of messages) expect(parseServerMessage(message)).toEqual(message);
    expect(errorOf(() => parseServerMessage({ type: 'future' })).code).toBe('ws_unknown_type');
    expect(errorOf(() => parseServerMessage({ type: 'event', channel: 'c' })).code).toBe(
      'ws_bad_message',
    );
  });
});

describe('close codes', () => {
  it('the table lists every named code once, with the reconnect convention', () => {
    expect(CLOSE_CODE_TABLE.map((e) => e.code).sort()).toEqual(Object.values(CLOSE_CODES).sort());
    for (const entry of CLOSE_CODE_TABLE) {
      if (entry.code >= 4000 && entry.code < 4500) expect(entry.reconnect).toBe(true);
      if (entry.code >= 4500) expect(entry.reconnect).toBe(false);
    }
    expect(shouldReconnect(1006)).toBe(true);
    expect(shouldReconnect(4321)).toBe(true);
    expect(shouldReconnect(4777)).toBe(false);
    expect(shouldReconnect(CLOSE_CODES.SLOW_CONSUMER)).toBe(true);
  });
});
