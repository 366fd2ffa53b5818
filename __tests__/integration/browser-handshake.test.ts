/**
 * What a server sees of our opening handshake, compared with what Chromium sends: the exact
 * request head, the Origin a global location gives, and URL credentials sent only after a
 * Basic challenge (Fetch's rules), with at most one retry.
 * @see https://websockets.spec.whatwg.org/#concept-websocket-establish, https://fetch.spec.whatwg.org/#http-network-or-cache-fetch
 */
import { execFile } from 'node:child_process';
import * as dc from 'node:diagnostics_channel';
import * as path from 'node:path';
import { ChannelName } from '../../lib/diagnostics';
import { WebSocket } from '../../lib/ponyfill';
import { FAILED, next, outcomeOf } from '../helpers/events';
import { RawServer } from '../helpers/raw-server';

const root = path.resolve(__dirname, '..', '..');
let server: RawServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

test('the request head, byte for byte, in the order Chromium 156 writes it', async () => {
  server = await RawServer.start();
  const ws = new WebSocket(server.url('127.0.0.1', '/feed?x=1'), ['chat', 'superchat']);
  const request = await server.requests.next();
  const key = request.head.headers.get('sec-websocket-key') as string;
  expect(key).toMatch(/^[A-Za-z0-9+/]{22}==$/);
  expect(request.raw).toBe(
    'GET /feed?x=1 HTTP/1.1\r\n' +
      `Host: 127.0.0.1:${server.port}\r\n` +
      'Connection: Upgrade\r\n' +
      'Pragma: no-cache\r\n' +
      'Cache-Control: no-cache\r\n' +
      'User-Agent: node\r\n' +
      'Upgrade: websocket\r\n' +
      'Sec-WebSocket-Version: 13\r\n' +
      `Sec-WebSocket-Key: ${key}\r\n` +
      'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' +
      'Sec-WebSocket-Protocol: chat, superchat\r\n' +
      '\r\n',
  );
  expect(request.head.headers.has('accept-encoding') || request.head.headers.has('accept-language')).toBe(false);
  request.accept('Sec-WebSocket-Protocol: chat\r\n');
  await next(ws, 'open');
  expect(ws.protocol).toBe('chat');
  expect(ws.extensions).toBe('');
});

test('perMessageDeflate: false offers no extension; the head is otherwise the same', async () => {
  server = await RawServer.start();
  const ws = new WebSocket(server.url('127.0.0.1', '/'), { perMessageDeflate: false });
  const request = await server.requests.next();
  expect(request.raw).toMatch(/\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: [A-Za-z0-9+/]{22}==\r\n\r\n$/);
  expect(request.head.headers.has('sec-websocket-extensions')).toBe(false);
  request.accept();
  await next(ws, 'open');
});

/** Runs a child Node that defines `location` (when given) and connects to `url`; resolves with its exit. */
function connectFromChild(url: string, locationHref: string | null): Promise<void> {
  const script = [
    locationHref === null ? '' : `globalThis.location = { href: ${JSON.stringify(locationHref)} };`,
    `const { WebSocket } = require(${JSON.stringify(path.join(root, 'dist', 'ponyfill.js'))});`,
    `const ws = new WebSocket(${JSON.stringify(url)});`,
    'ws.onopen = () => process.exit(0);',
  ].join('\n');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { timeout: 15_000 }, (error) => (error ? reject(error) : resolve()));
  });
}

describe('Origin', () => {
  test.each([
    ['no location: no Origin header', null, undefined],
    ['an https: location: its origin, with the port', 'https://app.example:8443/page?q#h', 'https://app.example:8443'],
    ['an http: location on the default port', 'http://app.example/a/b', 'http://app.example'],
    ['a file: location has an opaque origin: null', 'file:///srv/app/index.html', 'null'],
  ])('%s', async (_name, href, expected) => {
    server = await RawServer.start();
    const child = connectFromChild(server.url(), href);
    const request = await server.requests.next(10_000);
    expect(request.head.headers.get('origin')).toBe(expected);
    // Origin sits right after Upgrade, as in Chromium.
    if (expected !== undefined) expect(request.raw).toContain(`Upgrade: websocket\r\nOrigin: ${expected}\r\nSec-WebSocket-Version: 13\r\n`);
    request.accept();
    await child;
  });
});

describe('URL credentials', () => {
  const challenge = 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="feed"\r\nContent-Length: 0\r\n\r\n';
  const basic = (pair: string): string => `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;

  test.each([
    ['user:pa%20ss', 'user:pa ss'],
    ['user', 'user:'],
    ['%C3%BCser:p%E2%82%ACss', 'üser:p€ss'],
  ])('ws://%s@host: no Authorization first; after a Basic 401, one new connection with Basic base64(%j)', async (userinfo, pair) => {
    server = await RawServer.start();
    const ws = new WebSocket(`ws://${userinfo}@127.0.0.1:${server.port}/private`);
    const outcome = outcomeOf(ws);
    const first = await server.requests.next();
    expect(first.head.headers.has('authorization')).toBe(false);
    first.socket.end(challenge);
    const second = await server.requests.next();
    expect(second.socket).not.toBe(first.socket);
    expect(second.head.startLine).toBe('GET /private HTTP/1.1');
    expect(second.head.headers.get('authorization')).toBe(basic(pair));
    // Authorization goes where Chromium puts it: after the version, before the key.
    expect(second.raw).toMatch(/Sec-WebSocket-Version: 13\r\nAuthorization: Basic [^\r]+\r\nSec-WebSocket-Key: /);
    expect(second.head.headers.get('sec-websocket-key')).not.toBe(first.head.headers.get('sec-websocket-key'));
    second.accept();
    await next(ws, 'open');
    expect(server.connections).toBe(2);
    second.socket.destroy();
    expect((await outcome).events).toEqual(['open', 'close']);
  });

  test('wrong credentials: the second 401 fails the connection, and no third request is made', async () => {
    server = await RawServer.start();
    const ws = new WebSocket(`ws://user:wrong@127.0.0.1:${server.port}/`);
    const outcome = outcomeOf(ws);
    (await server.requests.next()).socket.end(challenge);
    const second = await server.requests.next();
    expect(second.head.headers.get('authorization')).toBe(basic('user:wrong'));
    second.socket.end(challenge);
    expect(await outcome).toMatchObject({ ...FAILED, events: ['error', 'close'] });
    expect(server.connections).toBe(2);
  });

  test.each([
    ['a URL without credentials', '', 'WWW-Authenticate: Basic realm="x"'],
    ['a 401 without a Basic challenge', 'user:pass@', 'WWW-Authenticate: Bearer realm="x"'],
    ['a 401 without any challenge', 'user:pass@', ''],
  ])('%s: a 401 fails the connection without a retry', async (_name, userinfo, header) => {
    server = await RawServer.start();
    const reasons: string[] = [];
    const onFail = (message: unknown): void => void reasons.push((message as { reason: string }).reason);
    dc.subscribe(ChannelName.fail, onFail);
    try {
      const ws = new WebSocket(`ws://${userinfo}127.0.0.1:${server.port}/`);
      const outcome = outcomeOf(ws);
      const request = await server.requests.next();
      expect(request.head.headers.has('authorization')).toBe(false);
      request.socket.end(`HTTP/1.1 401 Unauthorized\r\n${header ? `${header}\r\n` : ''}Content-Length: 0\r\n\r\n`);
      expect(await outcome).toMatchObject({ ...FAILED, events: ['error', 'close'] });
      expect(server.connections).toBe(1);
      expect(reasons).toEqual([expect.stringContaining('expected status 101, got 401')]);
    } finally {
      dc.unsubscribe(ChannelName.fail, onFail);
    }
  });

  test('the handshake channel shows both responses, the 401 and the 101', async () => {
    server = await RawServer.start();
    const seen: { status: number; headers: Record<string, string> }[] = [];
    const onHandshake = (message: unknown): void => void seen.push(message as (typeof seen)[number]);
    dc.subscribe(ChannelName.handshake, onHandshake);
    try {
      const ws = new WebSocket(`ws://u:p@127.0.0.1:${server.port}/`);
      (await server.requests.next()).socket.end(challenge);
      (await server.requests.next()).accept('X-Served-By: test\r\n');
      await next(ws, 'open');
      expect(seen.map((s) => s.status)).toEqual([401, 101]);
      expect(seen[0].headers['www-authenticate']).toBe('Basic realm="feed"');
      expect(seen[1].headers['x-served-by']).toBe('test');
    } finally {
      dc.unsubscribe(ChannelName.handshake, onHandshake);
    }
  });
});
