import { once } from 'node:events';
import { WebSocket, CloseEvent } from '../../lib/ponyfill';
import { TestServer } from '../../lib/server';

let server: TestServer;
beforeEach(async () => {
  server = await TestServer.start();
});
afterEach(() => server.close());

test('opens, echoes a text message, and closes cleanly with the code and reason given', async () => {
  const ws = new WebSocket(server.url());
  await once(ws, 'open');
  ws.send('hello');
  const [message] = (await once(ws, 'message')) as [MessageEvent];
  expect(message.data).toBe('hello');
  ws.close(1000, 'bye');
  const [close] = (await once(ws, 'close')) as [CloseEvent];
  expect(close).toBeInstanceOf(CloseEvent);
  expect({ code: close.code, reason: close.reason, wasClean: close.wasClean }).toEqual({ code: 1000, reason: 'bye', wasClean: true });
  expect(ws.readyState).toBe(WebSocket.CLOSED);
});
