// Code using the side-effect-free entry. Compiled in every setup of the matrix; never run.
import { ChannelName, CloseEvent, WebSocket, ping, type BinaryType, type CloseEventInit } from 'polyfill/ponyfill';
// @ts-expect-error the helper types of index.d.ts stay private
import type { EventListenerLike } from 'polyfill/ponyfill';

export function connect(url: string): WebSocket {
  const ws = new WebSocket(url, new Set(['a', 'b']));
  new WebSocket(new URL(url), 'a');
  const type: BinaryType = 'arraybuffer';
  ws.binaryType = type;
  ws.onopen = function () {
    this.send(new Uint8Array([1]));
  };
  ws.onmessage = (e) => e.data;
  ws.onerror = (e) => e.type;
  ws.onclose = (e) => e.code + e.reason + e.wasClean;
  ws.addEventListener('close', (e) => e.wasClean);
  ws.addEventListener('error', { handleEvent: (e: Event) => e.type });

  const init: CloseEventInit = { code: 1000, reason: 'done' };
  const event: CloseEvent = new CloseEvent('close', init);
  const ok: boolean = event instanceof Event && event.code === 1000;

  // The literal constants, on the class and on instances.
  const states: [0, 1, 2, 3] = [WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, ws.CLOSED];
  const channel: 'polyfill:websocket:fail' = ChannelName.fail;
  void [ok, states, channel];

  // Our events fit wherever code expects the global types (lib.dom's or undici's). Our sockets
  // do too with lib.dom, but not with undici's types, whose constants are typed `number`.
  const eventAsGlobal: globalThis.CloseEvent = event;
  const classAsGlobal: typeof globalThis.CloseEvent = CloseEvent;
  void [eventAsGlobal, classAsGlobal];

  // @ts-expect-error readyState is read-only
  ws.readyState = 1;
  // @ts-expect-error send() takes strings, buffers and Blobs, not numbers
  ws.send(42);
  // @ts-expect-error binaryType is 'blob' or 'arraybuffer'
  ws.binaryType = 'nodebuffer';
  // @ts-expect-error the channel names are constants
  ChannelName.fail = 'x';
  // @ts-expect-error protocols are strings
  new WebSocket(url, [1]);

  // ping() and its channels.
  const roundTrip: Promise<number> = ping(ws, new Uint16Array(2));
  const channels: ['polyfill:websocket:ping', 'polyfill:websocket:pong'] = [ChannelName.ping, ChannelName.pong];
  void [roundTrip, channels];
  // @ts-expect-error ping() takes a WebSocket
  void ping({}, 'x');

  return ws;
}
