/**
 * A real `Response` (instanceof, status, headers) whose body stream is built only when
 * something reads the body. `createSseResponse` returns one for requests from sluice's own
 * Node adapter (`DIRECT_SSE_SERVER` in response.ts), which never reads the body: it claims
 * the stream and writes it to the socket itself (`claimDirectSse`), so a Web
 * `ReadableStream` per SSE response would be made for nothing. On Node 20 that stream costs
 * 10–15 µs to make and about 2 KB of heap for the life of the connection, on every LLM
 * answer and every idle subscriber.
 *
 * How: the Response is constructed without a body, and every member that touches the body
 * (`body`, `bodyUsed`, `text()`, `json()`, `arrayBuffer()`, `blob()`, `formData()`,
 * `bytes()` where the runtime has it, and `clone()`) is redirected to a second, ordinary
 * Response built with the stream on first use, with the same status and headers. Code that
 * reads a Response through its public members (frameworks' Node adapters, `new
 * Response(res.body, res)`, tests) sees an ordinary streaming Response.
 */

/** The body members the wrapper redirects (those the runtime's Response has). */
const BODY_METHODS = ['arrayBuffer', 'blob', 'bytes', 'formData', 'json', 'text'] as const;

export class LazyBodyResponse extends Response {
  readonly #makeBody: () => ReadableStream<Uint8Array>;
  #real: Response | undefined;

  constructor(makeBody: () => ReadableStream<Uint8Array>, init: ResponseInit) {
    super(null, init);
    this.#makeBody = makeBody;
  }

  /** True once the body stream exists (something read the body or cloned the response). */
  get bodyMade(): boolean {
    return this.#real !== undefined;
  }

  /** The ordinary Response that carries the body, made on first use. */
  realResponse(): Response {
    this.#real ??= new Response(this.#makeBody(), {
      status: this.status,
      statusText: this.statusText,
      headers: this.headers,
    });
    return this.#real;
  }

  override clone(): Response {
    return this.realResponse().clone();
  }
}

// `body` and `bodyUsed` are accessors on Response.prototype that TypeScript declares as
// properties, so they are redefined here rather than in the class body.
Object.defineProperties(LazyBodyResponse.prototype, {
  body: {
    get(this: LazyBodyResponse) {
      return this.realResponse().body;
    },
    configurable: true,
  },
  bodyUsed: {
    get(this: LazyBodyResponse) {
      return this.bodyMade && this.realResponse().bodyUsed;
    },
    configurable: true,
  },
  ...Object.fromEntries(
    BODY_METHODS.filter((name) => name in Response.prototype).map((name) => [
      name,
      {
        value(this: LazyBodyResponse) {
          const real = this.realResponse() as unknown as Record<string, () => unknown>;
          return real[name]!();
        },
        configurable: true,
        writable: true,
      },
    ]),
  ),
});
