export * from './sse-client.js';
export * from './sse-client-policy.js';
export * from './sse-client-types.js';
export * from './reconnecting-websocket.js';
export * from './ws-client.js';
export * from './stream-chat.js';
