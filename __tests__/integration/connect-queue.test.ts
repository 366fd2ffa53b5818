/**
 * RFC 6455 §4.1's connection queue: one connection in CONNECTING per remote address and port;
 * the others wait, without a TCP connection, until it has opened or failed.
 * @see RFC 6455 §4.1 (client requirement 2), WPT websockets/constructor/014
 */
import * as dns from 'node:dns';
import { WebSocket } from '../../lib/ponyfill';
import { FAILED, next, outcomeOf } from '../helpers/events';
import { RawServer } from '../helpers/raw-server';

const servers: RawServer[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(host = '127.0.0.1'): Promise<RawServer> {
  const s = await RawServer.start(host);
  servers.push(s);
  return s;
}

function open(url: string): WebSocket {
  const ws = new WebSocket(url);
  sockets.push(ws);
  return ws;
}

/**
 * Lets the client make progress on a connection elsewhere, then returns: a socket to another
 * server (another address and port, so no queue in common) opens fully. Whatever the client
 * would have done meanwhile for a socket that was not waiting, it has done.
 */
async function elsewhereOpens(): Promise<void> {
  const other = await start();
  const ws = open(other.url());
  (await other.requests.next()).accept();
  await next(ws, 'open');
}

test('two sockets to one address: the second makes no TCP connection until the first has opened', async () => {
  const server = await start();
  const first = open(server.url());
  const second = open(server.url());
  const request1 = await server.requests.next();
  await elsewhereOpens();
  expect(server.connections).toBe(1);
  expect(second.readyState).toBe(WebSocket.CONNECTING);
  request1.accept();
  await next(first, 'open');
  const request2 = await server.requests.next();
  expect(server.connections).toBe(2);
  request2.accept();
  await next(second, 'open');
});

test('three sockets to one address connect one at a time, in construction order', async () => {
  const server = await start();
  const order: string[] = [];
  const ws = ['a', 'b', 'c'].map((name) => {
    const socket = open(server.url(`127.0.0.1`, `/${name}`));
    socket.onopen = () => order.push(`open ${name}`);
    return socket;
  });
  for (const name of ['a', 'b', 'c']) {
    const request = await server.requests.next();
    order.push(`request ${request.head.startLine.split(' ')[1]}`);
    await elsewhereOpens();
    expect(server.connections).toBe(order.filter((o) => o.startsWith('request')).length);
    request.accept();
    await next(ws[name.charCodeAt(0) - 97], 'open');
  }
  expect(order).toEqual(['request /a', 'open a', 'request /b', 'open b', 'request /c', 'open c']);
});

test('two host names for one address share a queue: localhost waits behind its address', async () => {
  // Whichever address localhost resolves to first is the one the client tries first.
  const { address } = (await dns.promises.lookup('localhost', { all: true }))[0];
  const server = await start(address);
  const first = open(server.url(address));
  const second = open(`ws://localhost:${server.port}/`);
  const request1 = await server.requests.next();
  await elsewhereOpens();
  expect(server.connections).toBe(1);
  request1.accept();
  await next(first, 'open');
  const request2 = await server.requests.next();
  expect(request2.head.headers.get('host')).toBe(`localhost:${server.port}`);
  request2.accept();
  await next(second, 'open');
});

test('close() on a waiting socket fails it without ever connecting, and the queue goes on', async () => {
  const server = await start();
  const first = open(server.url());
  const waiting = open(server.url());
  const third = open(server.url());
  const outcome = outcomeOf(waiting);
  const request1 = await server.requests.next();
  waiting.close();
  expect(waiting.readyState).toBe(WebSocket.CLOSING);
  expect(await outcome).toMatchObject({ ...FAILED, events: ['error', 'close'] });
  expect(server.connections).toBe(1);
  request1.accept();
  await next(first, 'open');
  (await server.requests.next()).accept();
  await next(third, 'open');
  expect(server.connections).toBe(2);
});

test('a failed first connection releases the second', async () => {
  const server = await start();
  const first = open(server.url());
  const second = open(server.url());
  const failed = outcomeOf(first);
  const request1 = await server.requests.next();
  await elsewhereOpens();
  expect(server.connections).toBe(1);
  request1.socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
  expect(await failed).toMatchObject({ ...FAILED, events: ['error', 'close'] });
  (await server.requests.next()).accept();
  await next(second, 'open');
});

test('a first connection that times out releases the queue', async () => {
  const { settings } = await import('../../lib/settings');
  const saved = settings.handshakeTimeoutMs;
  settings.handshakeTimeoutMs = 150;
  const server = await start();
  let first: WebSocket;
  try {
    first = open(server.url());
  } finally {
    settings.handshakeTimeoutMs = saved;
  }
  const second = open(server.url());
  const failed = outcomeOf(first);
  await server.requests.next(); // never answered
  expect(await failed).toMatchObject({ ...FAILED, events: ['error', 'close'] });
  (await server.requests.next()).accept();
  await next(second, 'open');
});

test('different ports do not wait for each other', async () => {
  const a = await start();
  const b = await start();
  const toA = open(a.url());
  const toB = open(b.url());
  const requestA = await a.requests.next();
  const requestB = await b.requests.next();
  requestB.accept();
  await next(toB, 'open');
  expect(toA.readyState).toBe(WebSocket.CONNECTING);
  requestA.accept();
  await next(toA, 'open');
});
