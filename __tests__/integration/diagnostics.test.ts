/**
 * The causes the Standard keeps off the `error` event (its warning against probing networks)
 * are published on node:diagnostics_channel for whoever subscribes.
 */
import * as dc from 'node:diagnostics_channel';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { WebSocket } from '../../lib/ponyfill';
import { settings } from '../../lib/settings';
import { ChannelName } from '../../lib/diagnostics';
import { Opcode } from '../../lib/constants';
import { acceptKeyFor as acceptFor } from '../../lib/handshake';
import { TestServer } from '../../lib/server';
import { next, outcomeOf } from '../helpers/events';

interface Published {
  channel: keyof typeof ChannelName;
  message: Record<string, unknown>;
}

const saved = { ...settings };
let server: TestServer | undefined;
let published: Published[] = [];
const listeners = Object.keys(ChannelName).map((key) => {
  const channel = key as keyof typeof ChannelName;
  return [ChannelName[channel], (message: unknown) => published.push({ channel, message: message as Record<string, unknown> })] as const;
});
beforeEach(() => {
  published = [];
  for (const [name, listener] of listeners) dc.subscribe(name, listener);
});
afterEach(async () => {
  for (const [name, listener] of listeners) dc.unsubscribe(name, listener);
  Object.assign(settings, saved);
  await server?.close();
  server = undefined;
});

/** What was published about `ws`, in order (the handshake channel has tests of its own). */
const about = (ws: WebSocket): Published[] => published.filter((p) => p.message.websocket === ws && p.channel !== 'handshake');

/** The error event of `ws`, checked to carry nothing beyond a plain Event. */
function expectBareErrorEvent(event: Event): void {
  expect(event.constructor).toBe(Event);
  expect(Object.getPrototypeOf(event)).toBe(Event.prototype);
  expect(Object.keys(event)).toEqual([]);
  expect('message' in event || 'error' in event || 'reason' in event).toBe(false);
}

test('open publishes the URL, protocol and extensions; a clean close publishes code, reason and wasClean', async () => {
  server = await TestServer.start({ selectProtocol: () => 'chat' });
  const ws = new WebSocket(server.url('/diag'), ['chat']);
  const outcome = outcomeOf(ws);
  await next(ws, 'open');
  ws.close(1000, 'bye');
  await outcome;
  expect(about(ws)).toEqual([
    { channel: 'open', message: { websocket: ws, url: ws.url, protocol: 'chat', extensions: '' } },
    { channel: 'close', message: { websocket: ws, url: ws.url, wasClean: true, code: 1000, reason: 'bye' } },
  ]);
});

test('a handshake failure publishes the rule that failed; the error event carries nothing', async () => {
  server = await TestServer.start({
    respond: () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm90IHRoZSByaWdodCBrZXk=\r\n\r\n',
  });
  const ws = new WebSocket(server.url());
  const error = next(ws, 'error');
  const outcome = outcomeOf(ws);
  expectBareErrorEvent(await error);
  expect((await outcome).code).toBe(1006);
  const [fail, close] = about(ws);
  expect(fail.channel).toBe('fail');
  expect(fail.message.url).toBe(ws.url);
  expect(fail.message.reason).toMatch(/Sec-WebSocket-Accept/);
  expect(close).toEqual({ channel: 'close', message: { websocket: ws, url: ws.url, wasClean: false, code: 1006, reason: '' } });
});

test.each([
  ['a wrong status', 'HTTP/1.1 404 Not Found\r\n\r\n', /404/],
  ['an unoffered subprotocol', 'SUBPROTOCOL', /subprotocol/],
])('a handshake failure for %s names it', async (_, response, pattern) => {
  server = await TestServer.start({
    respond: (request) =>
      response === 'SUBPROTOCOL'
        ? `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(request.key)}\r\nSec-WebSocket-Protocol: other\r\n\r\n`
        : response,
  });
  const ws = new WebSocket(server.url());
  await outcomeOf(ws);
  expect(about(ws).find((p) => p.channel === 'fail')?.message.reason).toMatch(pattern);
});

test('a protocol error publishes its message; the error event carries nothing', async () => {
  server = await TestServer.start({ mode: 'script' });
  const ws = new WebSocket(server.url());
  const outcome = outcomeOf(ws);
  const error = next(ws, 'error');
  const opened = next(ws, 'open');
  const conn = await server.nextConnection();
  await opened;
  conn.sendFrame(Opcode.TEXT, Buffer.from('x'), { rsv1: true });
  expect((await conn.next('close')).code).toBe(1002);
  expectBareErrorEvent(await error);
  await outcome;
  const fail = about(ws).find((p) => p.channel === 'fail');
  expect(fail?.message.reason).toMatch(/RSV/);
});

test('a refused connection publishes the socket error with its code', async () => {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  const error = next(ws, 'error');
  await outcomeOf(ws);
  expectBareErrorEvent(await error);
  const fail = about(ws).find((p) => p.channel === 'fail');
  expect((fail?.message.error as { code?: string }).code).toBe('ECONNREFUSED');
  expect(fail?.message.reason).toMatch(/ECONNREFUSED/);
});

test('a TLS verification failure publishes the certificate error', async () => {
  const fixture = (name: string): Buffer => readFileSync(path.join(__dirname, '..', 'fixtures', 'tls', name));
  server = await TestServer.start({ tls: { key: fixture('untrusted-key.pem'), cert: fixture('untrusted.pem') } });
  settings.tls = { ca: fixture('ca.pem') };
  const ws = new WebSocket(server.url());
  await outcomeOf(ws);
  const fail = about(ws).find((p) => p.channel === 'fail');
  expect((fail?.message.error as { code?: string }).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
});

test('a handshake timeout publishes the time limit', async () => {
  settings.handshakeTimeoutMs = 150;
  server = await TestServer.start({ respond: () => null });
  const ws = new WebSocket(server.url());
  await outcomeOf(ws);
  expect(about(ws).find((p) => p.channel === 'fail')?.message.reason).toMatch(/150 ms/);
});

test('an abrupt TCP close after open publishes close 1006 and no failure', async () => {
  server = await TestServer.start({ mode: 'script' });
  const ws = new WebSocket(server.url());
  const outcome = outcomeOf(ws);
  const opened = next(ws, 'open');
  const conn = await server.nextConnection();
  await opened;
  conn.destroy();
  expect((await outcome).events).toEqual(['open', 'close']);
  expect(about(ws).map((p) => p.channel)).toEqual(['open', 'close']);
  expect(about(ws)[1].message).toMatchObject({ wasClean: false, code: 1006 });
});

test('a TCP reset after open publishes the socket error, while the page sees only close 1006', async () => {
  server = await TestServer.start({ mode: 'script' });
  const ws = new WebSocket(server.url());
  const outcome = outcomeOf(ws);
  const opened = next(ws, 'open');
  const conn = await server.nextConnection();
  await opened;
  conn.socket.resetAndDestroy();
  expect(await outcome).toEqual({ events: ['open', 'close'], code: 1006, reason: '', wasClean: false, readyState: 3 });
  const fail = about(ws).find((p) => p.channel === 'fail');
  expect((fail?.message.error as { code?: string }).code).toBe('ECONNRESET');
  expect(fail?.message.reason).toMatch(/ECONNRESET/);
});
