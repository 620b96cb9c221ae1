/**
 * `node --import ./bench/fanout/tsc-register.mjs script.ts`: runs TypeScript as tsc emits
 * it (see tsc-hooks.mjs). Registered after tsx, these hooks run first for `.ts` files.
 */
import { register } from 'node:module';

register('./tsc-hooks.mjs', import.meta.url);
