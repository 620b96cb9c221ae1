/**
 * Module hooks that run the project's TypeScript the way `npm run build` emits it: each
 * `.ts` file is transpiled alone by `typescript` (`transpileModule`, ES2022, types erased,
 * nothing added). tsx, which runs the rest of the bench, transpiles with esbuild's
 * `keepNames`: every named arrow function and class gets a `__name()` call that redefines
 * its `name`, which costs time wherever such a function is created and turns each one's
 * properties into a dictionary (~0.3 KiB). Fine for scripts, but a server process measured
 * for CPU and memory per connection must run the code users run.
 *
 * Registered by tsc-register.mjs (`node --import ./bench/fanout/tsc-register.mjs`); only
 * `.ts` files outside node_modules are handled, everything else goes down the chain.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { URL, fileURLToPath } from 'node:url';
import ts from 'typescript';

const COMPILER_OPTIONS = {
  module: ts.ModuleKind.ESNext,
  target: ts.ScriptTarget.ES2022,
  verbatimModuleSyntax: true,
  sourceMap: false,
};

function ours(url) {
  return url.startsWith('file:') && url.endsWith('.ts') && !url.includes('/node_modules/');
}

/** Source imports use `.js` suffixes (NodeNext); the file on disk is the `.ts` next to it. */
export async function resolve(specifier, context, next) {
  const parent = context.parentURL;
  if (parent && ours(parent) && specifier.endsWith('.js') && /^\.\.?\//.test(specifier)) {
    const url = new URL(specifier.slice(0, -3) + '.ts', parent);
    if (existsSync(fileURLToPath(url)))
      return { url: url.href, format: 'module', shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!ours(url)) return next(url, context);
  const fileName = fileURLToPath(url);
  const { outputText } = ts.transpileModule(await readFile(fileName, 'utf8'), {
    fileName,
    compilerOptions: COMPILER_OPTIONS,
  });
  return { format: 'module', source: outputText, shortCircuit: true };
}
