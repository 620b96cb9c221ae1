/**
 * How `streamChat()` tells a network drop (resumable) from a server's answer (final), and
 * turns OpenAI-shaped error bodies into SluiceErrors carrying the server's code.
 */
import { SluiceError, type SluiceErrorCode } from '../core/errors.js';

/** A connection-level failure: the stream may be resumed by generation id. */
export class Drop extends Error {}

export function fromErrorBody(error: unknown): SluiceError {
  const body = (typeof error === 'object' && error !== null ? error : {}) as Record<
    string,
    unknown
  >;
  const code = typeof body['code'] === 'string' ? body['code'] : 'internal_error';
  const message = typeof body['message'] === 'string' ? body['message'] : 'Server error';
  // The code is the server's; it is also kept in `details.code` for codes this client predates.
  return new SluiceError(code as SluiceErrorCode, message, { details: { code } });
}

/** The error of a non-2xx response, from its `{ "error": {...} }` body when it has one. */
export async function errorFrom(response: Response): Promise<SluiceError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const inner = (body as { error?: unknown } | undefined)?.error;
  const error = fromErrorBody(
    inner ?? { code: 'sse_bad_status', message: `HTTP ${response.status}` },
  );
  return new SluiceError(error.code, error.message, {
    status: response.status,
    details: { code: error.code },
  });
}
