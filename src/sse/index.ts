export * from './parser.js';
export * from './parser-stream.js';
export * from './encoder.js';
