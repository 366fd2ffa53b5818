/**
 * The Node-side options of the WebSocketInit dictionary, on the wire: extra headers (and that
 * nothing invalid is ever written), TLS options, limits, the Unix socket and the queue opt-out.
 * Proxies have their own file.
 */
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { Opcode } from '../../lib/constants';
import { WebSocket } from '../../lib/ponyfill';
import { TestServer } from '../../lib/server';
import { FAILED, next, outcomeOf } from '../helpers/events';
import { RawServer } from '../helpers/raw-server';

const fixture = (name: string): Buffer => readFileSync(path.join(__dirname, '..', 'fixtures', 'tls', name));
const ca = fixture('ca.pem');

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
async function raw(): Promise<RawServer> {
  const s = await RawServer.start();
  cleanups.push(() => s.close());
  return s;
}
async function testServer(options: Parameters<typeof TestServer.start>[0] = {}): Promise<TestServer> {
  const s = await TestServer.start(options);
  cleanups.push(() => s.close());
  return s;
}

describe('headers', () => {
  test.each<[string, unknown]>([
    ['a record', { 'X-Api-Key': 'k1', 'X-Trace': 't' }],
    ['pairs', [['X-Api-Key', 'k1'], ['X-Trace', 't']]],
    ['a Headers object', new Headers([['X-Api-Key', 'k1'], ['X-Trace', 't']])],
  ])('given as %s, they follow our headers on the wire', async (_name, headers) => {
    const server = await raw();
    const ws = new WebSocket(server.url(), { headers: headers as Record<string, string> });
    const request = await server.requests.next();
    expect(request.head.headers.get('x-api-key')).toBe('k1');
    expect(request.head.headers.get('x-trace')).toBe('t');
    expect(request.raw).toMatch(/Sec-WebSocket-Key: [^\r]+\r\n(?:Sec-WebSocket-Extensions: [^\r]+\r\n)?[Xx]-[Aa]pi-[Kk]ey: k1\r\n[Xx]-[Tt]race: t\r\n\r\n$/);
    request.accept();
    await next(ws, 'open');
  });

  test('Host, Origin, User-Agent, Authorization and Cookie replace ours, in our place', async () => {
    const server = await raw();
    const ws = new WebSocket(server.url(), {
      headers: { Cookie: 'session=abc', 'User-Agent': 'my-app/2.0', Origin: 'https://app.example', Authorization: 'Bearer t0k', Host: 'api.example' },
    });
    const request = await server.requests.next();
    const lines = request.raw.split('\r\n');
    expect(lines.slice(0, 10)).toEqual([
      'GET / HTTP/1.1',
      'Host: api.example',
      'Connection: Upgrade',
      'Pragma: no-cache',
      'Cache-Control: no-cache',
      'User-Agent: my-app/2.0',
      'Upgrade: websocket',
      'Origin: https://app.example',
      'Sec-WebSocket-Version: 13',
      'Authorization: Bearer t0k',
    ]);
    expect(lines[10]).toBe('Cookie: session=abc');
    expect(request.raw.match(/^User-Agent:/gim)).toHaveLength(1);
    request.accept();
    await next(ws, 'open');
  });

  test.each<[string, unknown]>([
    ['CR LF in a value', { headers: { 'X-A': 'a\r\nX-Injected: yes' } }],
    ['LF in a value', { headers: [['X-A', 'a\nX-Injected: yes']] }],
    ['CR LF in a name', { headers: [['X-A\r\nX-Injected', 'yes']] }],
    ['a forbidden name', { headers: { 'Sec-WebSocket-Protocol': 'x' } }],
    ['a protocol that is not a token', { protocols: ['a\r\nX-Injected: yes'] }],
  ])('%s: the constructor throws and no TCP connection is made', async (_name, init) => {
    const server = await raw();
    expect(() => new WebSocket(server.url(), init as object)).toThrow();
    // A connection attempt would have reached the server by the time another socket opens.
    const ws = new WebSocket(server.url());
    (await server.requests.next()).accept();
    await next(ws, 'open');
    expect(server.connections).toBe(1);
  });

  test('dispatcher throws a TypeError and nothing is connected', async () => {
    const server = await raw();
    expect(() => new WebSocket(server.url(), { dispatcher: {} } as object)).toThrow(/undici's option.*options\.proxy.*options\.tls/);
    const ws = new WebSocket(server.url());
    (await server.requests.next()).accept();
    await next(ws, 'open');
    expect(server.connections).toBe(1);
  });
});

describe('tls', () => {
  test('tls.ca trusts a test CA for this socket only', async () => {
    const server = await testServer({ tls: { key: fixture('server-key.pem'), cert: fixture('server.pem') } });
    const trusted = new WebSocket(server.url(), { tls: { ca } });
    await next(trusted, 'open');
    trusted.close();
    const untrusted = outcomeOf(new WebSocket(server.url()));
    expect(await untrusted).toMatchObject({ ...FAILED, events: ['error', 'close'] });
  });

  test('a self-signed server fails, and opens with rejectUnauthorized: false', async () => {
    const server = await testServer({ tls: { key: fixture('untrusted-key.pem'), cert: fixture('untrusted.pem') } });
    expect(await outcomeOf(new WebSocket(server.url(), { tls: { ca } }))).toMatchObject({ ...FAILED, events: ['error', 'close'] });
    const ws = new WebSocket(server.url(), { tls: { rejectUnauthorized: false } });
    await next(ws, 'open');
    ws.send('insecure but asked for');
    expect((await next<MessageEvent>(ws, 'message')).data).toBe('insecure but asked for');
    ws.close();
  });

  test('mutual TLS: the client certificate reaches the server', async () => {
    const server = await testServer({
      tls: { key: fixture('server-key.pem'), cert: fixture('server.pem'), requestCert: true, rejectUnauthorized: true, ca: fixture('client-ca.pem') },
    });
    const withCert = new WebSocket(server.url(), { tls: { ca, cert: fixture('client.pem'), key: fixture('client-key.pem') } });
    const conn = await server.nextConnection();
    await next(withCert, 'open');
    expect((conn.socket as tls.TLSSocket).getPeerCertificate().subject.CN).toBe('test client');
    withCert.close();
    // Without a certificate the server refuses the TLS handshake.
    expect(await outcomeOf(new WebSocket(server.url(), { tls: { ca } }))).toMatchObject({ ...FAILED, events: ['error', 'close'] });
  });

  test('servername overrides SNI, and the certificate is checked against it', async () => {
    const server = await testServer({ tls: { key: fixture('other-host-key.pem'), cert: fixture('other-host.pem') } });
    // wss://localhost:<port>/ with SNI other.example: the certificate for other.example verifies.
    const ws = new WebSocket(server.url(), { tls: { ca, servername: 'other.example' } });
    const conn = await server.nextConnection();
    await next(ws, 'open');
    expect((conn.socket as tls.TLSSocket).servername).toBe('other.example');
    expect(conn.request.headers.get('host')).toBe(`localhost:${server.port}`);
    ws.close();
  });
});

describe('limits', () => {
  test('handshakeTimeout: a server that never answers fails the socket after it', async () => {
    const server = await raw();
    const started = performance.now();
    const outcome = outcomeOf(new WebSocket(server.url(), { handshakeTimeout: 150 }));
    await server.requests.next();
    expect(await outcome).toMatchObject({ ...FAILED, events: ['error', 'close'] });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  test.each<[string, number[], boolean]>([
    ['exactly maxPayload bytes in one frame arrive', [1000], true],
    ['one byte over in one frame fails with 1009', [1001], false],
    ['exactly maxPayload across fragments arrive', [400, 400, 200], true],
    ['one byte over across fragments fails with 1009', [400, 400, 201], false],
  ])('%s', async (_name, fragments, delivered) => {
    const server = await testServer({ mode: 'script' });
    const ws = new WebSocket(server.url(), { maxPayload: 1000 });
    ws.binaryType = 'arraybuffer';
    const outcome = outcomeOf(ws);
    const conn = await server.nextConnection();
    await next(ws, 'open');
    fragments.forEach((size, i) => conn.sendFrame(i === 0 ? Opcode.BINARY : Opcode.CONTINUATION, Buffer.alloc(size, i), { fin: i === fragments.length - 1 }));
    if (delivered) {
      expect(((await next<MessageEvent>(ws, 'message')).data as ArrayBuffer).byteLength).toBe(1000);
      ws.close();
    } else {
      expect(await conn.next('close')).toMatchObject({ code: 1009 });
      expect(await outcome).toMatchObject({ ...FAILED, events: ['open', 'error', 'close'] });
    }
  });
});

describe('socketPath', () => {
  test('connects to a Unix domain socket; the URL still gives Host and the request target', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'polyfill-unix-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const socketPath = path.join(dir, 'ws.sock');
    const seen: string[] = [];
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => {
      sockets.push(socket);
      socket.once('data', (chunk) => {
        const head = chunk.toString('latin1');
        seen.push(head);
        const key = /Sec-WebSocket-Key: (.*)\r\n/i.exec(head)?.[1] ?? '';
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { acceptKeyFor } = require('../../lib/handshake') as typeof import('../../lib/handshake');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKeyFor(key)}\r\n\r\n`);
        // Echo one text frame back, unmasked: enough to show the socket carries frames.
        socket.once('data', (frame) => {
          const length = frame[1] & 0x7f;
          const mask = frame.subarray(2, 6);
          const payload = Buffer.from(frame.subarray(6, 6 + length).map((b, i) => b ^ mask[i & 3]));
          socket.write(Buffer.concat([Buffer.from([0x81, length]), payload]));
        });
      });
    });
    server.listen(socketPath);
    await once(server, 'listening');
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    });
    const ws = new WebSocket('ws://app.internal/feed?x=1', { socketPath });
    await next(ws, 'open');
    expect(seen[0]).toMatch(/^GET \/feed\?x=1 HTTP\/1\.1\r\nHost: app\.internal\r\n/);
    ws.send('over unix');
    expect((await next<MessageEvent>(ws, 'message')).data).toBe('over unix');
  });
});

describe('parallelConnect', () => {
  test('two sockets to one address both send their handshake before either 101', async () => {
    const server = await raw();
    const a = new WebSocket(server.url(), { parallelConnect: true });
    const b = new WebSocket(server.url(), { parallelConnect: true });
    const first = await server.requests.next();
    const second = await server.requests.next();
    expect(server.connections).toBe(2);
    first.accept();
    second.accept();
    await Promise.all([next(a, 'open'), next(b, 'open')]);
  });

  test('a queued socket still waits behind one in the queue; a parallel one does not', async () => {
    const server = await raw();
    const a = new WebSocket(server.url());
    const queued = new WebSocket(server.url());
    const parallel = new WebSocket(server.url(), { parallelConnect: true });
    const first = await server.requests.next();
    const second = await server.requests.next();
    expect(server.connections).toBe(2);
    second.accept();
    await next(parallel, 'open');
    expect(queued.readyState).toBe(WebSocket.CONNECTING);
    first.accept();
    await next(a, 'open');
    (await server.requests.next()).accept();
    await next(queued, 'open');
  });
});
