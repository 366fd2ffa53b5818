// Browser-style code against the globals that `import 'polyfill'` installs. Compiled by
// __tests__/types.test.ts in every setup of the matrix (tsconfig.node-*.json); never run.
import 'polyfill';
import { ping } from 'polyfill';

export function connect(url: string): WebSocket {
  const ws = new WebSocket(url, ['a']);
  new WebSocket(new URL(url));
  new WebSocket(url, 'a');
  ws.binaryType = 'arraybuffer';
  const type: "blob" | "arraybuffer" = ws.binaryType;
  ws.onopen = function () {
    this.send('hello');
    this.send(new Uint8Array([1, 2]));
    this.send(new ArrayBuffer(2));
    this.send(new Blob(['x']));
  };
  ws.onmessage = (e) => e.data;
  ws.onerror = (e) => e.type;
  ws.onclose = (e) => e.code + e.reason + e.wasClean;
  ws.addEventListener('close', (e) => e.code);
  ws.addEventListener('message', (e) => e.data, { once: true });
  ws.removeEventListener('open', () => undefined);
  ws.onopen = null;

  const event = new CloseEvent('close', { code: 1000 });
  const init: CloseEventInit = { code: 1000, reason: 'done', wasClean: true };
  new CloseEvent('close', init);
  const code: number = event.code;
  ws.dispatchEvent(event);

  const open: boolean = WebSocket.OPEN === 1 && ws.OPEN === 1 && ws.readyState === WebSocket.CLOSED;
  const counts: number = ws.bufferedAmount + ws.url.length + ws.protocol.length + ws.extensions.length;
  ws.close(1000, 'bye');
  ws.close();
  void [type, code, open, counts];

  // @ts-expect-error readyState is read-only
  ws.readyState = 1;
  // @ts-expect-error url is read-only
  ws.url = 'ws://example.com';
  // @ts-expect-error send() takes strings, buffers and Blobs, not numbers
  ws.send(42);
  // @ts-expect-error the URL is required
  new WebSocket();
  // @ts-expect-error code is a number
  new CloseEvent('close', { code: '1000' });
  // @ts-expect-error CloseEvent's code is read-only
  event.code = 1001;
  // @ts-expect-error OPEN is the constant 1
  const two: 2 = WebSocket.OPEN;
  void two;

  // ping(), on the global socket type (lib.dom's or @types/node's).
  const roundTrip: Promise<number> = ping(ws);
  void [roundTrip, ping(ws, 'x'), ping(ws, new Uint8Array(1)), ping(ws, new ArrayBuffer(1)), ping(ws, new DataView(new ArrayBuffer(1)))];
  // @ts-expect-error a payload is a string or a BufferSource
  void ping(ws, 42);
  // @ts-expect-error the socket is required
  void ping();

  return ws;
}
