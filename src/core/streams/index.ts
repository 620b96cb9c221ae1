// sluice/streams: backpressure-aware Web Streams utilities. Runtime-neutral except
// compressStream, which loads node:zlib on first use.
export * from './from-async-iterable.js';
export * from './to-async-iterable.js';
export * from './buffer-monitor.js';
export * from './monitor-backpressure.js';
export * from './async-queue.js';
export * from './bounded-queue.js';
export * from './conflating-queue.js';
export * from './batch.js';
export * from './coalesce.js';
export * from './compress-stream.js';
export * from './negotiate-compression.js';
