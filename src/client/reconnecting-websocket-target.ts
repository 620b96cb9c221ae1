/**
 * The event side of ReconnectingWebSocket: WebSocket-style `on*` handler properties (one
 * handler per type, replacing the previous one, dispatched like any listener so a throwing
 * handler cannot break the state machine) and typed `addEventListener` overloads, which
 * the WebSocket client's targets reuse.
 */
import type {
  ReconnectingWebSocketEventMap,
  SocketCloseEvent,
  SocketErrorEvent,
  StateChangeEvent,
} from './reconnecting-websocket-types.js';

type Handler<E extends Event> = ((event: E) => void) | null;
type Listener<E extends Event> = ((event: E) => void) | { handleEvent(event: E): void };

/** An EventTarget whose listeners are typed by an event map (as the DOM's own targets are). */
export class TypedEventTarget<M extends { [K in keyof M]: Event }> extends EventTarget {
  override addEventListener<K extends keyof M & string>(
    type: K,
    listener: Listener<M[K]> | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener, options);
  }

  override removeEventListener<K extends keyof M & string>(
    type: K,
    listener: Listener<M[K]> | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(type, listener, options);
  }
}

export class SocketEventTarget extends TypedEventTarget<ReconnectingWebSocketEventMap> {
  readonly #handlers = new Map<string, { fn: unknown; listener: EventListener }>();

  get onopen(): Handler<Event> {
    return this.#getHandler('open');
  }
  set onopen(fn: Handler<Event>) {
    this.#setHandler('open', fn);
  }
  get onmessage(): Handler<MessageEvent> {
    return this.#getHandler('message');
  }
  set onmessage(fn: Handler<MessageEvent>) {
    this.#setHandler('message', fn);
  }
  get onclose(): Handler<SocketCloseEvent> {
    return this.#getHandler('close');
  }
  set onclose(fn: Handler<SocketCloseEvent>) {
    this.#setHandler('close', fn);
  }
  get onerror(): Handler<SocketErrorEvent> {
    return this.#getHandler('error');
  }
  set onerror(fn: Handler<SocketErrorEvent>) {
    this.#setHandler('error', fn);
  }
  get onstatechange(): Handler<StateChangeEvent> {
    return this.#getHandler('statechange');
  }
  set onstatechange(fn: Handler<StateChangeEvent>) {
    this.#setHandler('statechange', fn);
  }

  #getHandler<E extends Event>(type: string): Handler<E> {
    return (this.#handlers.get(type)?.fn as Handler<E> | undefined) ?? null;
  }

  #setHandler<E extends Event>(type: string, fn: Handler<E>): void {
    const previous = this.#handlers.get(type);
    if (previous) super.removeEventListener(type, previous.listener);
    this.#handlers.delete(type);
    if (typeof fn !== 'function') return;
    const listener = (event: Event): void => fn.call(this, event as E);
    this.#handlers.set(type, { fn, listener });
    super.addEventListener(type, listener);
  }
}
