// With a lib.dom that declares WebSocketStream (future-dom.d.ts), the globals are lib.dom's and
// our classes still fit them. Compiled by tsconfig.future-dom.json only; never run.
import 'polyfill';
import { WebSocketError as OurError, WebSocketStream as OurStream } from 'polyfill/ponyfill';

export async function open(url: string): Promise<void> {
  const wss = new WebSocketStream(url, { protocols: ['a'] });
  const info = await wss.opened;
  // lib.dom's dictionary members are optional: this is its type, not ours.
  // @ts-expect-error possibly undefined
  info.readable.getReader();
  const error: WebSocketError = new WebSocketError('x', { closeCode: 1000 });
  const ours: WebSocketStream = new OurStream(url);
  const ourError: WebSocketError = new OurError();
  void [error, ours, ourError];
}
