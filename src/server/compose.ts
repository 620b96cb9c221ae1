import type { RouteHandler } from './handler.js';

/** Tries each handler in order; the first that answers wins. */
export function composeHandlers(...handlers: RouteHandler[]): RouteHandler {
  return async (request, context) => {
    for (const handler of handlers) {
      const response = await handler(request, context);
      if (response !== undefined) return response;
    }
    return undefined;
  };
}
