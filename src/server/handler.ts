/**
 * The one seam between the HTTP server and the features mounted on it (channels, LLM,
 * demo): Web-standard handlers. A handler answers a `Request` with a `Response`, or with
 * `undefined` when the request is not one of its paths, so handlers compose in order.
 * The Node adapter (node-adapter.ts) only converts; handlers never see Node objects.
 */
export interface RequestContext {
  /** Fires when the client disconnects or the server shuts down. */
  signal: AbortSignal;
  /**
   * Remote IP address, when known (for rate limits and logs). Read it while the request is
   * open: the Node adapter looks it up on first read, and a connection already gone has none.
   */
  remoteAddress: string | undefined;
  /** '1.1' or '2.0': SSE must not send `Connection` headers on HTTP/2. */
  httpVersion: string;
}

export type RouteHandler = (
  request: Request,
  context: RequestContext,
) => Promise<Response | undefined> | Response | undefined;
