// Code written for Chromium's WebSocketStream against the globals `import 'polyfill'` installs.
// Compiled by __tests__/types.test.ts in every setup of the matrix; never run.
import 'polyfill';

export async function chat(url: string, signal: AbortSignal): Promise<void> {
  const wss = new WebSocketStream(url, { protocols: ['chat.v1'], signal });
  new WebSocketStream(new URL(url));
  new WebSocketStream(url, null);
  const { readable, writable, protocol, extensions } = await wss.opened;
  const writer = writable.getWriter();
  await writer.ready;
  await writer.write('hello');
  await writer.write(new Uint8Array([1, 2]));
  const reader = readable.getReader();
  const { value, done } = await reader.read();
  if (!done) void (typeof value === 'string' ? value.toUpperCase() : value.byteLength);
  const url2: string = wss.url;
  wss.close({ closeCode: 1000, reason: 'bye' });
  wss.close();
  try {
    const { closeCode, reason } = await wss.closed;
    void [closeCode, reason];
  } catch (error) {
    if (error instanceof WebSocketError) void [error.closeCode, error.reason, error.name, error.message];
  }
  const error = new WebSocketError('stop', { closeCode: 4000, reason: 'stopped' });
  await readable.cancel(error);
  await writable.abort(new WebSocketError());
  const asDOMException: DOMException = error;
  const code: number | null = error.closeCode;
  void [protocol, extensions, url2, asDOMException, code];

  // @ts-expect-error the URL is required
  new WebSocketStream();
  // @ts-expect-error protocols are strings
  new WebSocketStream(url, { protocols: [1] });
  // @ts-expect-error url is read-only
  wss.url = 'ws://example.com';
  // @ts-expect-error closeCode is read-only
  error.closeCode = 1000;
}
