/**
 * Errors in OpenAI's shape, so the `openai` client raises its usual typed errors: an HTTP
 * status plus `{ "error": { message, type, param, code } }` before a stream starts, and the
 * same body as a `data:` frame once it has (the client throws `APIError` on any frame with
 * a top-level `error`). `code` is sluice's error code (docs/errors.md).
 */
import { SluiceError, isSluiceError, truncate } from '../core/errors.js';
import type { OpenAIErrorBody } from './openai-types.js';

const TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'invalid_request_error',
  409: 'invalid_request_error',
  413: 'invalid_request_error',
  415: 'invalid_request_error',
  429: 'rate_limit_error',
};

/** Any thrown value as a SluiceError; unknown errors become a 500 that leaks no detail. */
export function toSluiceError(error: unknown): SluiceError {
  if (isSluiceError(error)) return error;
  if (error instanceof Error && error.name === 'AbortError') {
    return new SluiceError('aborted', 'The generation was aborted', { cause: error, status: 499 });
  }
  return new SluiceError('internal_error', 'Internal error', { cause: error, status: 500 });
}

export function openAIErrorBody(error: unknown): OpenAIErrorBody {
  const err = toSluiceError(error);
  const status = err.status ?? 500;
  const param = typeof err.details?.['param'] === 'string' ? err.details['param'] : null;
  return {
    error: {
      message: truncate(err.message),
      type: TYPE_BY_STATUS[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
      param,
      code: err.code,
    },
  };
}

export function errorResponse(error: unknown, headers?: HeadersInit): Response {
  const err = toSluiceError(error);
  const status =
    err.status !== undefined && err.status >= 400 && err.status <= 599 ? err.status : 500;
  return Response.json(openAIErrorBody(err), { status, ...(headers ? { headers } : {}) });
}

export function invalidRequest(message: string, param?: string): SluiceError {
  return new SluiceError('llm_invalid_request', message, {
    status: 400,
    ...(param === undefined ? {} : { details: { param } }),
  });
}
