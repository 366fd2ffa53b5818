/**
 * The WebSocket fires its events and wires its on* handlers with EventTarget's own algorithms:
 * HTML's "fire an event" and "add an event listener" do not call properties that the page may
 * have replaced on the object.
 * @see https://html.spec.whatwg.org/multipage/webappapis.html#event-handler-attributes
 * @see https://dom.spec.whatwg.org/#concept-event-fire
 */
import { type CloseEvent, WebSocket } from '../../lib/ponyfill';
import { TestServer } from '../../lib/server';
import { within } from '../helpers/events';

let server: TestServer;
let ws: WebSocket | null = null;

afterEach(async () => {
  if (ws !== null && ws.readyState !== WebSocket.CLOSED) ws.close();
  ws = null;
  await server.close();
});

test('own addEventListener, removeEventListener and dispatchEvent on the object are not used for on* handlers or fired events', async () => {
  server = await TestServer.start({ mode: 'echo' });
  const socket = new WebSocket(server.url());
  ws = socket;
  const calls: string[] = [];
  Object.assign(socket, {
    addEventListener: (type: string) => calls.push(`addEventListener ${type}`),
    removeEventListener: (type: string) => calls.push(`removeEventListener ${type}`),
    dispatchEvent: (event: Event) => calls.push(`dispatchEvent ${event.type}`),
  });
  const seen: string[] = [];
  const closed = new Promise<number>((resolve) => {
    socket.onopen = () => {
      seen.push('open');
      socket.onerror = () => seen.push('error');
      socket.onerror = null; // removes the listener again
      socket.send('echo me');
    };
    socket.onmessage = (event) => {
      seen.push(`message ${(event as MessageEvent).data as string}`);
      socket.close(1000);
    };
    socket.onclose = (event) => {
      seen.push('close');
      resolve((event as CloseEvent).code);
    };
  });
  expect(await within(closed, 5000, 'the close event')).toBe(1000);
  expect(seen).toEqual(['open', 'message echo me', 'close']);
  expect(calls).toEqual([]);
});
