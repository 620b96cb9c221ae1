/**
 * The IPC messages every fan-out bench (SSE and WebSocket) speaks the same way: the server
 * process's CPU reading and paced publish, and the client-load process's arm/done run, so
 * one run step (measure-delivery.ts) drives any of them.
 */

export interface CpuCommand {
  type: 'cpu';
}

export interface PublishCommand {
  type: 'publish';
  count: number;
  rate: number;
}

export interface ArmCommand {
  type: 'arm';
  expected: number;
  timeout: number;
}

export interface CpuReply {
  type: 'cpu';
  user: number;
  system: number;
}

export interface PublishedReply {
  type: 'published';
  count: number;
  startedAt: number;
  endedAt: number;
}

export interface ErrorReply {
  type: 'error';
  message: string;
}

/** The commands and replies every fan-out server process handles alike. */
export type DeliveryServerCommand = CpuCommand | PublishCommand;
export type DeliveryServerReply = CpuReply | PublishedReply | ErrorReply;

/** What a client-load process counted between `arm` and `done`. */
export interface DeliveryFigures {
  delivered: number;
  /** Wall-clock time of the last delivery (ms since the Unix epoch, sub-ms precision). */
  lastAt: number;
  p50: number;
  p99: number;
  /** CPU time the client process spent between arm and done, µs. */
  cpuMicros: number;
}

/** Client-load process -> parent; `Extra` adds a bench's own figures to `done`. */
export type DeliveryClientReply<Extra extends object = Record<never, never>> =
  | { type: 'connected'; clients: number }
  | { type: 'armed' }
  | ({ type: 'done' } & DeliveryFigures & Extra)
  | ErrorReply;
