/**
 * wss: over node:tls against the test server with the committed certificates
 * (__tests__/fixtures/tls). Verification is on by default; the tests trust the test CA through
 * settings.tls.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { WebSocketServer, type WebSocket as PeerSocket } from 'ws';
import { WebSocket } from '../../lib/ponyfill';
import { settings } from '../../lib/settings';
import { TestServer } from '../../lib/server';
import { FAILED, next, outcomeOf, within } from '../helpers/events';

const fixture = (name: string): Buffer => readFileSync(path.join(__dirname, '..', 'fixtures', 'tls', name));
const ca = fixture('ca.pem');
const trusted = { key: fixture('server-key.pem'), cert: fixture('server.pem') };
const otherHost = { key: fixture('other-host-key.pem'), cert: fixture('other-host.pem') };
const untrusted = { key: fixture('untrusted-key.pem'), cert: fixture('untrusted.pem') };

const saved = { ...settings };
let server: TestServer | undefined;
afterEach(async () => {
  Object.assign(settings, saved);
  await server?.close();
  server = undefined;
});

test('wss: with the test CA trusted: open, echo, and a clean close', async () => {
  settings.tls = { ca };
  server = await TestServer.start({ tls: trusted });
  const ws = new WebSocket(server.url());
  const outcome = outcomeOf(ws);
  ws.binaryType = 'arraybuffer';
  await next(ws, 'open');
  ws.send('over tls');
  expect((await next<MessageEvent>(ws, 'message')).data).toBe('over tls');
  const big = Buffer.alloc(256 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = i % 251;
  ws.send(big);
  expect(Buffer.from((await next<MessageEvent>(ws, 'message')).data as ArrayBuffer).equals(big)).toBe(true);
  ws.close(1000, 'done');
  expect(await outcome).toEqual({ events: ['open', 'message', 'message', 'close'], code: 1000, reason: 'done', wasClean: true, readyState: 3 });
});

test('the SNI server name is the URL host, sent in the TLS handshake', async () => {
  settings.tls = { ca };
  server = await TestServer.start({ tls: trusted });
  const ws = new WebSocket(server.url()); // wss://localhost:<port>/
  const opened = next(ws, 'open');
  const conn = await server.nextConnection();
  await opened;
  expect((conn.socket as tls.TLSSocket).servername).toBe('localhost');
  ws.close();
});

test('an IP literal host sends no SNI (RFC 6066 §3) and is verified against the IP in the certificate', async () => {
  settings.tls = { ca };
  server = await TestServer.start({ tls: trusted });
  const ws = new WebSocket(`wss://127.0.0.1:${server.port}/`);
  const opened = next(ws, 'open');
  const conn = await server.nextConnection();
  await opened;
  expect((conn.socket as tls.TLSSocket).servername).toBeFalsy();
  ws.close();
});

test('verification is on by default: the test CA is not trusted unless configured', async () => {
  server = await TestServer.start({ tls: trusted });
  expect(settings.tls).toEqual({});
  const ws = new WebSocket(server.url());
  expect(await outcomeOf(ws)).toEqual({ events: ['error', 'close'], ...FAILED });
  expect(server.requests).toEqual([]);
});

test('an untrusted self-signed certificate fails the connection: error, close 1006, never open', async () => {
  settings.tls = { ca };
  server = await TestServer.start({ tls: untrusted });
  const ws = new WebSocket(server.url());
  expect(await outcomeOf(ws)).toEqual({ events: ['error', 'close'], ...FAILED });
  expect(server.requests).toEqual([]);
});

test('a trusted certificate for another host name fails the connection: error, close 1006, never open', async () => {
  settings.tls = { ca };
  server = await TestServer.start({ tls: otherHost });
  const ws = new WebSocket(server.url()); // localhost, but the certificate names other.example
  expect(await outcomeOf(ws)).toEqual({ events: ['error', 'close'], ...FAILED });
  expect(server.requests).toEqual([]);
});

test('a plain TCP server that never answers the TLS ClientHello: failed after settings.handshakeTimeoutMs', async () => {
  settings.tls = { ca };
  settings.handshakeTimeoutMs = 300;
  server = await TestServer.start();
  const ws = new WebSocket(`wss://localhost:${server.port}/`);
  expect(await outcomeOf(ws)).toEqual({ events: ['error', 'close'], ...FAILED });
});

test('wss: against a ws server on node:https: echo both ways and a server-initiated clean close', async () => {
  settings.tls = { ca };
  const httpsServer = https.createServer(trusted);
  const wss = new WebSocketServer({ server: httpsServer });
  httpsServer.listen(0, '127.0.0.1');
  await within(once(httpsServer, 'listening'), 5000, 'the https server to listen');
  try {
    const ws = new WebSocket(`wss://localhost:${(httpsServer.address() as AddressInfo).port}/`);
    const outcome = outcomeOf(ws);
    const opened = next(ws, 'open');
    const [peer] = (await within(once(wss, 'connection'), 5000, 'a ws connection')) as [PeerSocket];
    await opened;
    peer.on('message', (data: Buffer) => peer.send(`echo:${data.toString()}`));
    ws.send('secure');
    expect((await next<MessageEvent>(ws, 'message')).data).toBe('echo:secure');
    peer.close(4100, 'tls bye');
    expect(await outcome).toEqual({ events: ['open', 'message', 'close'], code: 4100, reason: 'tls bye', wasClean: true, readyState: 3 });
  } finally {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await new Promise<void>((resolve) => httpsServer.close(() => resolve()));
  }
});
