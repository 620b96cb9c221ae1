import { SluiceError } from './errors.js';

/** Channel names: 1–128 characters of `A-Z a-z 0-9 _ - . : @` (docs/protocol.md). */
export const CHANNEL_NAME_PATTERN = /^[A-Za-z0-9_\-.:@]{1,128}$/;

export function isValidChannelName(name: string): boolean {
  return CHANNEL_NAME_PATTERN.test(name);
}

export function assertChannelName(name: string): void {
  if (!isValidChannelName(name)) {
    throw new SluiceError(
      'invalid_channel',
      'Channel names are 1-128 characters of A-Z a-z 0-9 _ - . : @',
      { status: 400, details: { channel: name.slice(0, 140) } },
    );
  }
}

/** Event names starting with this prefix are reserved for sluice's own signals. */
export const RESERVED_EVENT_PREFIX = 'sluice.';

/**
 * Checks a user-supplied event name: no CR/LF (SSE field injection), not reserved, bounded.
 */
export function assertEventName(event: string): void {
  if (/[\r\n\0]/.test(event) || event.length === 0 || event.length > 128) {
    throw new SluiceError(
      'invalid_event_name',
      'Event names are 1-128 characters without CR, LF or NUL',
      { status: 400 },
    );
  }
  if (event.startsWith(RESERVED_EVENT_PREFIX)) {
    throw new SluiceError(
      'reserved_event_name',
      `Event names starting with "${RESERVED_EVENT_PREFIX}" are reserved`,
      { status: 400 },
    );
  }
}
