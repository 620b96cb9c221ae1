/**
 * `GET /v1/models` and `GET /v1/models/{id}` in OpenAI's shape: the built-in mock
 * (`sluice-mock`), the model map's aliases, and the upstream's own list when it answers.
 */
import { SluiceError } from '../core/errors.js';
import type { ModelRouter } from './model-router.js';
import { errorResponse } from './openai-error.js';
import type { ModelList } from './openai-types.js';

export async function handleModels(
  request: Request,
  path: string,
  router: ModelRouter,
): Promise<Response | undefined> {
  if (path !== '/models' && !path.startsWith('/models/')) return undefined;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return errorResponse(
      new SluiceError('method_not_allowed', 'Use GET on this path', { status: 405 }),
      {
        allow: 'GET',
      },
    );
  }
  const models = await router.listModels({ signal: request.signal });
  if (path === '/models') {
    const list: ModelList = { object: 'list', data: models };
    return Response.json(list);
  }
  let id: string;
  try {
    id = decodeURIComponent(path.slice('/models/'.length));
  } catch {
    id = path.slice('/models/'.length);
  }
  const model = models.find((m) => m.id === id);
  if (!model) {
    return errorResponse(
      new SluiceError('llm_model_not_found', `The model "${id.slice(0, 100)}" does not exist`, {
        status: 404,
        details: { param: 'model' },
      }),
    );
  }
  return Response.json(model);
}
