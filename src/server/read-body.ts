import { SluiceError } from '../core/errors.js';
import { readBodyBounded } from '../core/read-bounded.js';

/**
 * Reads a request body as JSON with a hard byte limit: the declared Content-Length is
 * checked first, then the bytes actually received (a lying or absent length cannot make
 * us buffer more than `limit`).
 */
export async function readJsonBody(request: Request, limit: number): Promise<unknown> {
  const type = request.headers.get('content-type');
  if (type !== null && !/^application\/([a-z.+-]*\+)?json\b/i.test(type.trim())) {
    throw new SluiceError('unsupported_media_type', 'Send the body as application/json', {
      status: 415,
    });
  }
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const text = await readText(request, limit);
  if (text.trim() === '') throw new SluiceError('invalid_json', 'The request body is empty');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new SluiceError('invalid_json', 'The request body is not valid JSON', { cause: error });
  }
}

async function readText(request: Request, limit: number): Promise<string> {
  const bytes = await readBodyBounded(request, limit, () => tooLarge(limit));
  // Fatal: a lenient decoder turns bytes that are not UTF-8 into U+FFFD, and the message
  // would be published altered instead of refused.
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw new SluiceError('invalid_json', 'The request body is not valid UTF-8', {
      cause: error,
    });
  }
}

function tooLarge(limit: number): SluiceError {
  return new SluiceError('payload_too_large', `The request body is larger than ${limit} bytes`, {
    status: 413,
  });
}
