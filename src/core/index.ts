export * from './errors.js';
export * from './backoff.js';
export * from './event-id.js';
export * from './channel.js';
export * from './auth.js';
export * from './auth-jwt.js';
export * from './pollable.js';
