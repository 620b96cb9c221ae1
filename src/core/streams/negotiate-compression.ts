/**
 * `negotiateCompression`: picks the response encoding from an `Accept-Encoding` header
 * (RFC 9110 §12.5.3): the acceptable coding with the highest q-value, ties broken by the
 * server's preference; `q=0` forbids a coding, `*` stands for any coding not listed.
 * Returns undefined when the response should go uncompressed.
 */
import type { CompressionEncoding } from './compress-stream.js';

export interface NegotiateCompressionOptions {
  /** Codings the server offers, most preferred first. */
  prefer?: readonly CompressionEncoding[];
}

export const NEGOTIATE_COMPRESSION_DEFAULTS = Object.freeze({
  prefer: Object.freeze(['br', 'gzip', 'deflate'] as const),
});

export function negotiateCompression(
  acceptEncoding: string | null | undefined,
  options: NegotiateCompressionOptions = {},
): CompressionEncoding | undefined {
  if (acceptEncoding === null || acceptEncoding === undefined) return undefined;
  const prefer = options.prefer ?? NEGOTIATE_COMPRESSION_DEFAULTS.prefer;
  const weights = new Map<string, number>();
  for (const part of acceptEncoding.split(',')) {
    const [name = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (name === '') continue;
    let q = 1;
    for (const param of params) {
      const match = /^q\s*=\s*([01](?:\.\d{0,3})?)$/.exec(param);
      if (match?.[1] !== undefined) q = Number(match[1]);
    }
    // "x-gzip" is an alias of gzip (RFC 9110 §8.4.1.3).
    weights.set(name === 'x-gzip' ? 'gzip' : name, q);
  }
  const wildcard = weights.get('*');
  let best: CompressionEncoding | undefined;
  let bestQ = 0;
  for (const coding of prefer) {
    const q = weights.get(coding) ?? wildcard ?? 0;
    if (q > bestQ) {
      best = coding;
      bestQ = q;
    }
  }
  return best;
}
