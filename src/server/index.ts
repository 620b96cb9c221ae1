export * from './handler.js';
export * from './compose.js';
export * from './config.js';
export * from './channels-handler.js';
export * from './node-adapter.js';
export * from './read-body.js';
export * from './server.js';
export { toRequest, type NodeRequest } from './node-request.js';
export { answerClientError } from './client-error.js';
