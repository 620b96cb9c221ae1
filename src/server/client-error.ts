/**
 * Requests Node's HTTP parser rejects before any handler runs (a header section over
 * `maxHeaderSize`, a malformed request line, a request that took too long) get sluice's JSON
 * error body and a code, like every other bad request, instead of Node's bare status line.
 * Attach to a server's `clientError` event; the connection is closed after the answer.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { SluiceErrorCode } from '../core/errors.js';

type Answer = [status: number, code: SluiceErrorCode, message: string];

function answerFor(error: NodeJS.ErrnoException): Answer {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'headers_too_large', 'The request line and headers are too large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'request_timeout', 'The request did not arrive in time'];
    default:
      return [400, 'bad_request', 'Malformed HTTP request'];
  }
}

export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // A peer that reset or already got a response: nothing can be written any more.
  const response = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || response?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, code, message] = answerFor(error);
  const body = JSON.stringify({ error: { code, message } });
  // Then destroyed, as Node's own handler does: server sockets are half-open, so `end()`
  // alone would leave the connection (and a request whose body is still arriving) to a
  // peer that never closes its side, which is what a header or request timeout is for.
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}
