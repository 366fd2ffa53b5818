/**
 * The opening handshake against handcrafted server responses. A response that breaks a rule of
 * RFC 6455 §4.1 or of the Standard's "establish a WebSocket connection" fails the connection:
 * `error`, then `close` 1006 not clean, never `open` (the Standard's warning keeps the reason off
 * the events; diagnostics.test.ts checks it is published there).
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { WebSocket } from '../../lib/ponyfill';
import { settings } from '../../lib/settings';
import { acceptKeyFor, type ClientHandshake } from '../../lib/handshake';
import { TestServer } from '../../lib/server';
import { FAILED, next, outcomeOf, within } from '../helpers/events';

const saved = { ...settings };
let server: TestServer | undefined;
afterEach(async () => {
  Object.assign(settings, saved);
  await server?.close();
  server = undefined;
});

/** A 101 head accepting `request`, with `lines` replacing or adding header lines (null drops one). */
function head101(request: ClientHandshake, lines: Record<string, string | null> = {}, status = 'HTTP/1.1 101 Switching Protocols'): string {
  const headers: Record<string, string | null> = {
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Accept': acceptKeyFor(request.key),
    ...lines,
  };
  let out = `${status}\r\n`;
  for (const [name, value] of Object.entries(headers)) if (value !== null) out += `${name}: ${value}\r\n`;
  return out + '\r\n';
}

/** Serves `respond` and connects to it; resolves with what the page saw and the server's socket. */
async function handshake(
  respond: (request: ClientHandshake, socket: net.Socket) => string | Buffer | null,
  protocols: string[] = [],
): Promise<{ ws: WebSocket; socket: net.Socket; afterRequest: Buffer[]; outcome: ReturnType<typeof outcomeOf> }> {
  let accepted: (socket: net.Socket) => void;
  const afterRequest: Buffer[] = [];
  const socketPromise = new Promise<net.Socket>((resolve) => (accepted = resolve));
  server = await TestServer.start({
    mode: 'script',
    respond: (request, _head, socket) => {
      // Whatever the client writes after its request (it must write nothing: no frames before open).
      socket.on('data', (chunk: Buffer) => afterRequest.push(chunk));
      accepted(socket);
      return respond(request, socket);
    },
  });
  const ws = new WebSocket(server.url(), protocols);
  const outcome = outcomeOf(ws);
  const socket = await within(socketPromise, 5000, 'the handshake request');
  return { ws, socket, afterRequest, outcome };
}

/** Asserts the client failed the connection and closed TCP. */
async function expectFailed(run: Awaited<ReturnType<typeof handshake>>): Promise<void> {
  expect(await run.outcome).toEqual({ events: ['error', 'close'], ...FAILED });
  expect(run.ws.readyState).toBe(WebSocket.CLOSED);
  expect(run.ws.protocol).toBe('');
  if (!run.socket.destroyed) await within(once(run.socket, 'close'), 5000, 'the client to close TCP');
  // RFC 6455 §7.1.7: before the connection is established there is no Close frame to send.
  expect(Buffer.concat(run.afterRequest)).toEqual(Buffer.alloc(0));
}

describe('a response that breaks a rule fails the connection: error, close 1006, never open', () => {
  const cases: [string, (request: ClientHandshake) => string, string[]][] = [
    ['status 200', (r) => head101(r, {}, 'HTTP/1.1 200 OK'), []],
    ['status 400', () => 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n', []],
    ['status 101 over HTTP/2 syntax', (r) => head101(r, {}, 'HTTP/2 101 Switching Protocols'), []],
    ['a malformed status line (two-digit status)', (r) => head101(r, {}, 'HTTP/1.1 10 Switching Protocols'), []],
    ['a status line that is not HTTP', (r) => head101(r, {}, 'HTTX/1.1 101 Switching Protocols'), []],
    ['a malformed header line (no colon)', (r) => head101(r, { 'X-Broken-Line-Without-Colon\r\nX-Ok': '1' }), []],
    ['a wrong Sec-WebSocket-Accept', (r) => head101(r, { 'Sec-WebSocket-Accept': acceptKeyFor(r.key.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))) }), []],
    ['no Sec-WebSocket-Accept', (r) => head101(r, { 'Sec-WebSocket-Accept': null }), []],
    ['the key itself as Sec-WebSocket-Accept', (r) => head101(r, { 'Sec-WebSocket-Accept': r.key }), []],
    ['no Upgrade header', (r) => head101(r, { Upgrade: null }), []],
    ['Upgrade: h2c', (r) => head101(r, { Upgrade: 'h2c' }), []],
    ['Upgrade: websocket, h2c (RFC 6455 §4.1 wants exactly "websocket", as Chromium does)', (r) => head101(r, { Upgrade: 'websocket, h2c' }), []],
    ['no Connection header', (r) => head101(r, { Connection: null }), []],
    ['Connection: keep-alive (no upgrade token)', (r) => head101(r, { Connection: 'keep-alive' }), []],
    ['Connection: upgraded (a token that only starts with upgrade)', (r) => head101(r, { Connection: 'upgraded' }), []],
    ['a subprotocol when none was offered', (r) => head101(r, { 'Sec-WebSocket-Protocol': 'chat' }), []],
    ['a subprotocol that was not offered', (r) => head101(r, { 'Sec-WebSocket-Protocol': 'c' }), ['a', 'b']],
    ['two subprotocols at once', (r) => head101(r, { 'Sec-WebSocket-Protocol': 'a, b' }), ['a', 'b']],
    ['a subprotocol differing in case from the offered one', (r) => head101(r, { 'Sec-WebSocket-Protocol': 'Chat' }), ['chat']],
    ['no subprotocol when one was offered', (r) => head101(r), ['chat']],
    ['an extension that was not offered (x-webkit-deflate-frame)', (r) => head101(r, { 'Sec-WebSocket-Extensions': 'x-webkit-deflate-frame' }), []],
    ['a response head over the size limit', (r) => head101(r, { 'X-Filler': 'a'.repeat(settings.maxHandshakeHeadSize) }), []],
    ['a head that never ends within the size limit', () => 'HTTP/1.1 101 Switching Protocols\r\n' + 'X-Filler: aaaaaaaa\r\n'.repeat(2000), []],
  ];
  test.each(cases)('%s', async (_, response, protocols) => {
    const run = await handshake((request) => response(request), protocols);
    await expectFailed(run);
  });

  test('a 302 redirect is not followed', async () => {
    const run = await handshake(() => `HTTP/1.1 302 Found\r\nLocation: ${server?.url('/elsewhere')}\r\nContent-Length: 0\r\n\r\n`);
    await expectFailed(run);
    expect(server?.requests.map((r) => r.resource)).toEqual(['/']);
  });
});

describe('the transport fails during the handshake: error, close 1006, never open', () => {
  test('the server never answers -> failed after settings.handshakeTimeoutMs, TCP closed', async () => {
    settings.handshakeTimeoutMs = 200;
    const run = await handshake(() => null);
    await expectFailed(run);
  });

  test('the server resets TCP before responding', async () => {
    const run = await handshake((_, socket) => {
      socket.resetAndDestroy();
      return null;
    });
    await expectFailed(run);
  });

  test('the server closes TCP before responding', async () => {
    const run = await handshake((_, socket) => {
      socket.end();
      return null;
    });
    await expectFailed(run);
  });

  test('the server closes TCP in the middle of the response head', async () => {
    const run = await handshake((request, socket) => {
      socket.end(head101(request).slice(0, 60));
      return null;
    });
    await expectFailed(run);
  });

  test('the server closes TCP right after a complete but invalid head', async () => {
    const run = await handshake((_, socket) => {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return null;
    });
    await expectFailed(run);
  });

  test('connection refused (a port that was just closed)', async () => {
    const probe = net.createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const { port } = probe.address() as net.AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    expect(await outcomeOf(ws)).toEqual({ events: ['error', 'close'], ...FAILED });
  });
});

describe('valid responses open the connection', () => {
  async function opens(response: (request: ClientHandshake) => string | Buffer, protocols: string[] = []): Promise<WebSocket> {
    const run = await handshake((request) => response(request), protocols);
    await next(run.ws, 'open');
    expect(run.ws.readyState).toBe(WebSocket.OPEN);
    return run.ws;
  }

  test.each([
    ['Connection: keep-alive, Upgrade', { Connection: 'keep-alive, Upgrade' }],
    ['Connection: upgrade (lower case)', { Connection: 'upgrade' }],
    ['Connection: UPGRADE,keep-alive (no space)', { Connection: 'UPGRADE,keep-alive' }],
    ['Upgrade: WebSocket', { Upgrade: 'WebSocket' }],
    ['Upgrade: WEBSOCKET', { Upgrade: 'WEBSOCKET' }],
    ['header names in odd case', { Upgrade: null, Connection: null, upgrade: 'websocket', CONNECTION: 'Upgrade' }],
    ['an empty Sec-WebSocket-Extensions', { 'Sec-WebSocket-Extensions': '' }],
  ] as [string, Record<string, string | null>][])('%s', async (_, lines) => {
    await opens((request) => head101(request, lines));
  });

  test('a status line without a reason phrase', async () => {
    await opens((request) => head101(request, {}, 'HTTP/1.1 101'));
  });

  test('the subprotocol chosen among several offered is ws.protocol', async () => {
    const ws = await opens((request) => {
      expect(request.protocols).toEqual(['a', 'b', 'c']);
      return head101(request, { 'Sec-WebSocket-Protocol': 'b' });
    }, ['a', 'b', 'c']);
    expect(ws.protocol).toBe('b');
  });

  test('frames in the same TCP chunk as the 101 head reach the parser', async () => {
    const frame = Buffer.concat([Buffer.from([0x81, 5]), Buffer.from('early')]);
    const run = await handshake((request) => Buffer.concat([Buffer.from(head101(request), 'latin1'), frame]));
    const message = next<MessageEvent>(run.ws, 'message');
    await next(run.ws, 'open');
    expect((await message).data).toBe('early');
  });

  test('a head split byte by byte across TCP writes', async () => {
    const run = await handshake((request, socket) => {
      const bytes = Buffer.from(head101(request), 'latin1');
      const writeFrom = (i: number): void => {
        if (i < bytes.length) socket.write(bytes.subarray(i, i + 1), () => setImmediate(writeFrom, i + 1));
      };
      writeFrom(0);
      return null;
    });
    await next(run.ws, 'open');
  });
});

test.each([
  ['exactly settings.maxHandshakeHeadSize bytes opens', 0, true],
  ['one byte over settings.maxHandshakeHeadSize fails', 1, false],
])('the handshake head size limit: a response head of %s', async (_, extra, opensOk) => {
  settings.maxHandshakeHeadSize = 1024;
  const run = await handshake((request) => {
    const base = head101(request, { 'X-Pad': '' });
    return head101(request, { 'X-Pad': 'p'.repeat(1024 - base.length + extra) });
  });
  if (opensOk) {
    await next(run.ws, 'open');
  } else {
    await expectFailed(run);
  }
});
