/** Test helpers for reading SSE bodies as text, independent of the parser under test. */

/** Reads a body until `until(text)` holds (or the body ends), then cancels it. */
export async function readUntil(
  body: ReadableStream<Uint8Array>,
  until: (text: string) => boolean,
): Promise<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (!until(text)) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return text;
}

/** Splits SSE text into blocks of `field: value` lines (comments dropped); test use only. */
export function blocks(text: string): Record<string, string>[] {
  return text
    .split('\n\n')
    .map((block) =>
      block
        .split('\n')
        .filter((line) => line !== '' && !line.startsWith(':'))
        .map((line) => {
          const colon = line.indexOf(':');
          return [line.slice(0, colon), line.slice(colon + 2)] as const;
        }),
    )
    .filter((lines) => lines.length > 0)
    .map((lines) => Object.fromEntries(lines));
}
