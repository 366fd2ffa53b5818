/**
 * Interoperability with a real, independent server implementation: the `ws` package.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import * as path from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type ServerOptions, type WebSocket as PeerSocket, type RawData } from 'ws';
import { type CloseEvent, WebSocket } from '../../lib/ponyfill';
import { next, outcomeOf, within } from '../helpers/events';

let wss: WebSocketServer | undefined;
afterEach(async () => {
  if (wss === undefined) return;
  for (const client of wss.clients) client.terminate();
  await new Promise<void>((resolve) => wss?.close(() => resolve()));
  wss = undefined;
});

/** Starts a `ws` server, connects our client, and resolves once both sides are open. */
async function connect(options: ServerOptions = {}, protocols: string[] = []): Promise<{ ws: WebSocket; peer: PeerSocket }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  wss = server;
  await within(once(server, 'listening'), 5000, 'the ws server to listen');
  const { port } = server.address() as AddressInfo;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/interop`, protocols);
  ws.binaryType = 'arraybuffer';
  const opened = next(ws, 'open');
  const [peer] = (await within(once(server, 'connection'), 5000, 'a connection on the ws server')) as [PeerSocket];
  await opened;
  return { ws, peer };
}

/** The next message the ws server receives. */
async function received(peer: PeerSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  const [data, isBinary] = (await within(once(peer, 'message'), 10000, 'a message on the ws server')) as [RawData, boolean];
  return { data: Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]), isBinary };
}

function pattern(size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + (i >>> 8)) & 0xff;
  return out;
}

test('opens with no protocol and no extensions', async () => {
  const { ws } = await connect();
  expect(ws.readyState).toBe(WebSocket.OPEN);
  expect(ws.protocol).toBe('');
  expect(ws.extensions).toBe('');
});

test('text round trip, both ways, including non-ASCII', async () => {
  const { ws, peer } = await connect();
  ws.send('héllo 👋');
  const got = await received(peer);
  expect(got).toEqual({ data: Buffer.from('héllo 👋'), isBinary: false });
  peer.send('from ws ✓');
  expect((await next<MessageEvent>(ws, 'message')).data).toBe('from ws ✓');
});

test('binary round trip: ArrayBuffer and an ArrayBufferView send exactly their bytes', async () => {
  const { ws, peer } = await connect();
  ws.send(new Uint8Array([1, 2, 3, 255]).buffer);
  expect(await received(peer)).toEqual({ data: Buffer.from([1, 2, 3, 255]), isBinary: true });
  // A view into the middle of a larger buffer: only the view's bytes go out.
  const backing = new Uint16Array([0x0102, 0x0304, 0x0506, 0x0708]);
  ws.send(new Uint16Array(backing.buffer, 2, 2));
  expect((await received(peer)).data).toEqual(Buffer.from(backing.buffer, 2, 4));
  peer.send(Buffer.from([9, 8, 7]));
  const message = await next<MessageEvent>(ws, 'message');
  expect(message.data).toBeInstanceOf(ArrayBuffer);
  expect([...new Uint8Array(message.data as ArrayBuffer)]).toEqual([9, 8, 7]);
});

test('a 5 MiB message in each direction arrives intact', async () => {
  const { ws, peer } = await connect();
  const up = pattern(5 * 1024 * 1024);
  ws.send(up);
  const got = await received(peer);
  expect(got.data.length).toBe(up.length);
  expect(got.data.equals(up)).toBe(true);
  const down = pattern(5 * 1024 * 1024 + 3).reverse();
  peer.send(down);
  const message = await next<MessageEvent>(ws, 'message', 10000);
  expect(Buffer.from(message.data as ArrayBuffer).equals(down)).toBe(true);
});

test('a fragmented message from ws arrives as one message', async () => {
  const { ws, peer } = await connect();
  peer.send('frag', { fin: false });
  peer.send('men', { fin: false });
  peer.send('ted', { fin: true });
  expect((await next<MessageEvent>(ws, 'message')).data).toBe('fragmented');
  peer.send(Buffer.from([1, 2]), { binary: true, fin: false });
  peer.send(Buffer.from([3]), { binary: true, fin: true });
  expect([...new Uint8Array((await next<MessageEvent>(ws, 'message')).data as ArrayBuffer)]).toEqual([1, 2, 3]);
});

test('a ping from the ws server is answered with a pong carrying its payload', async () => {
  const { peer } = await connect();
  const pong = within(once(peer, 'pong'), 5000, 'a pong on the ws server');
  peer.ping(Buffer.from('ping-data'));
  const [data] = (await pong) as [Buffer];
  expect(data.toString()).toBe('ping-data');
});

test('the ws server closes with a code and reason: close event has them, clean', async () => {
  const { ws, peer } = await connect();
  const outcome = outcomeOf(ws);
  const peerClosed = within(once(peer, 'close'), 5000, 'close on the ws server');
  peer.close(4001, 'server reason');
  expect(await outcome).toEqual({ events: ['close'], code: 4001, reason: 'server reason', wasClean: true, readyState: 3 });
  // ws reports the code our client echoed.
  const [code] = (await peerClosed) as [number, Buffer];
  expect(code).toBe(4001);
});

test('our close(4000, "x") reaches the ws server with that code and reason', async () => {
  const { ws, peer } = await connect();
  const outcome = outcomeOf(ws);
  const peerClosed = within(once(peer, 'close'), 5000, 'close on the ws server');
  ws.close(4000, 'x');
  const [code, reason] = (await peerClosed) as [number, Buffer];
  expect({ code, reason: reason.toString() }).toEqual({ code: 4000, reason: 'x' });
  expect(await outcome).toEqual({ events: ['close'], code: 4000, reason: 'x', wasClean: true, readyState: 3 });
});

test('close() without a code reaches ws as 1005 (no status), and the close event reports 1005', async () => {
  const { ws, peer } = await connect();
  const outcome = outcomeOf(ws);
  const peerClosed = within(once(peer, 'close'), 5000, 'close on the ws server');
  ws.close();
  const [code] = (await peerClosed) as [number, Buffer];
  expect(code).toBe(1005);
  expect(await outcome).toMatchObject({ code: 1005, wasClean: true });
});

test('the ws server closes without a code: the close event reports 1005, clean', async () => {
  const { ws, peer } = await connect();
  const outcome = outcomeOf(ws);
  peer.close();
  expect(await outcome).toEqual({ events: ['close'], code: 1005, reason: '', wasClean: true, readyState: 3 });
});

test('the ws server terminates the connection: close 1006, not clean, and no error event', async () => {
  const { ws, peer } = await connect();
  const outcome = outcomeOf(ws);
  peer.terminate();
  expect(await outcome).toEqual({ events: ['close'], code: 1006, reason: '', wasClean: false, readyState: 3 });
});

test('subprotocol negotiation: the one handleProtocols picks is ws.protocol on both sides', async () => {
  let offered: string[] = [];
  const { ws, peer } = await connect(
    {
      handleProtocols: (protocols: Set<string>) => {
        offered = [...protocols];
        return 'two';
      },
    },
    ['one', 'two', 'three'],
  );
  expect(offered).toEqual(['one', 'two', 'three']);
  expect(ws.protocol).toBe('two');
  expect(peer.protocol).toBe('two');
});

test('a ws server with permessage-deflate enabled negotiates it with us, and messages flow both ways', async () => {
  const { ws, peer } = await connect({ perMessageDeflate: true });
  expect(ws.extensions).toBe('permessage-deflate');
  peer.send('x'.repeat(10000));
  expect((await next<MessageEvent>(ws, 'message')).data).toBe('x'.repeat(10000));
  ws.send('y'.repeat(10000));
  expect((await received(peer)).data.toString()).toBe('y'.repeat(10000));
});

test('a ws server without permessage-deflate (its default) declines our offer: no extension, messages flow', async () => {
  const { ws, peer } = await connect({ perMessageDeflate: false });
  expect(ws.extensions).toBe('');
  peer.send('x'.repeat(10000));
  expect((await next<MessageEvent>(ws, 'message')).data).toBe('x'.repeat(10000));
});

test('a message over the ws server maxPayload: ws closes with 1009 and our close event reports it', async () => {
  const { ws, peer } = await connect({ maxPayload: 1024 });
  const peerError = within(once(peer, 'error'), 5000, 'the error on the ws server');
  const outcome = outcomeOf(ws);
  ws.send(Buffer.alloc(2048));
  expect(((await peerError) as [Error & { code: string }])[0].code).toBe('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
  expect(await outcome).toMatchObject({ code: 1009, events: ['close'] });
});

test('many small messages keep their order', async () => {
  const { ws, peer } = await connect();
  const texts: string[] = [];
  const all = new Promise<void>((resolve) => {
    peer.on('message', (data: RawData) => {
      texts.push(data.toString());
      if (texts.length === 500) resolve();
    });
  });
  for (let i = 0; i < 500; i++) ws.send(`m${i}`);
  await within(all, 10000, '500 messages on the ws server');
  expect(texts).toEqual(Array.from({ length: 500 }, (_, i) => `m${i}`));
});

describe('Node options against a ws server', () => {
  const tlsFixture = (name: string): Buffer => readFileSync(path.join(__dirname, '..', 'fixtures', 'tls', name));
  let https: HttpsServer | undefined;
  afterEach(async () => {
    https?.closeAllConnections();
    await new Promise<void>((resolve) => (https === undefined ? resolve() : https.close(() => resolve())));
    https = undefined;
  });

  test('headers and tls (a private CA and a client certificate) reach a wss: ws server, and messages flow', async () => {
    https = createHttpsServer({
      key: tlsFixture('server-key.pem'),
      cert: tlsFixture('server.pem'),
      ca: tlsFixture('client-ca.pem'),
      requestCert: true,
      rejectUnauthorized: true,
    });
    const server = new WebSocketServer({ server: https });
    wss = server;
    https.listen(0, '127.0.0.1');
    await within(once(https, 'listening'), 5000, 'the https server to listen');
    const { port } = https.address() as AddressInfo;
    const ws = new WebSocket(`wss://localhost:${port}/secure`, {
      headers: new Headers([['X-Api-Key', 'k-123'], ['Cookie', 'sid=1']]),
      tls: { ca: tlsFixture('ca.pem'), cert: tlsFixture('client.pem'), key: tlsFixture('client-key.pem') },
      protocols: ['v1'],
    });
    server.on('connection', (peer) => peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary })));
    const [, request] = (await within(once(server, 'connection'), 5000, 'a connection on the ws server')) as [PeerSocket, IncomingMessage];
    await next(ws, 'open');
    expect(request.headers['x-api-key']).toBe('k-123');
    expect(request.headers.cookie).toBe('sid=1');
    expect(request.headers['user-agent']).toBe('node');
    expect((request.socket as TLSSocket).getPeerCertificate().subject.CN).toBe('test client');
    expect(ws.protocol).toBe('v1');
    ws.send('through TLS');
    expect((await next<MessageEvent>(ws, 'message')).data).toBe('through TLS');
    ws.close(1000);
    expect(await next<CloseEvent>(ws, 'close')).toMatchObject({ code: 1000, wasClean: true });
  });

  test('without the client certificate the ws server refuses the TLS handshake: error, then close 1006', async () => {
    https = createHttpsServer({ key: tlsFixture('server-key.pem'), cert: tlsFixture('server.pem'), ca: tlsFixture('client-ca.pem'), requestCert: true, rejectUnauthorized: true });
    wss = new WebSocketServer({ server: https });
    https.listen(0, '127.0.0.1');
    await within(once(https, 'listening'), 5000, 'the https server to listen');
    const { port } = https.address() as AddressInfo;
    const outcome = await outcomeOf(new WebSocket(`wss://localhost:${port}/`, { tls: { ca: tlsFixture('ca.pem') } }));
    expect(outcome).toMatchObject({ events: ['error', 'close'], code: 1006, wasClean: false });
  });
});
