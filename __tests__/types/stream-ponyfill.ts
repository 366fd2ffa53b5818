// WebSocketStream from the side-effect-free entry, with its exported types. Compiled in every
// setup of the matrix; never run.
import {
  WebSocketError,
  WebSocketStream,
  type WebSocketCloseInfo,
  type WebSocketOpenInfo,
  type WebSocketStreamOptions,
} from 'polyfill/ponyfill';

export async function download(url: string): Promise<number> {
  const options: WebSocketStreamOptions = { protocols: new Set(['a']), signal: AbortSignal.timeout(1000) };
  const wss = new WebSocketStream(url, options);
  const info: WebSocketOpenInfo = await wss.opened;
  let bytes = 0;
  for await (const chunk of info.readable as unknown as AsyncIterable<string | Uint8Array>) {
    bytes += typeof chunk === 'string' ? chunk.length : chunk.byteLength;
  }
  const closed: WebSocketCloseInfo = await wss.closed;
  const init: WebSocketCloseInfo = { reason: 'only a reason' };
  const error: DOMException = new WebSocketError('', init);
  void [closed, error];
  // @ts-expect-error closeCode is a number
  new WebSocketError('', { closeCode: '1000' });
  // @ts-expect-error opened is read-only
  wss.opened = Promise.resolve(info);
  return bytes;
}
