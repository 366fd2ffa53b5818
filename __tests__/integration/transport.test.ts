/**
 * The TCP side of a connection: addresses, the request line and Host header the server sees,
 * and socket options that can be observed from outside the process.
 */
import { existsSync, readFileSync } from 'node:fs';
import { WebSocket } from '../../lib/ponyfill';
import { settings } from '../../lib/settings';
import { type ServerConnection, TestServer, type TestServerOptions } from '../../lib/server';
import { next, outcomeOf } from '../helpers/events';

const saved = { ...settings };
let server: TestServer | undefined;
afterEach(async () => {
  Object.assign(settings, saved);
  await server?.close();
  server = undefined;
});

async function open(url: (s: TestServer) => string, options: TestServerOptions = {}): Promise<{ ws: WebSocket; conn: ServerConnection }> {
  server = await TestServer.start(options);
  const ws = new WebSocket(url(server));
  const opened = next(ws, 'open');
  const conn = await server.nextConnection();
  await opened;
  return { ws, conn };
}

test('an IPv6 literal ws://[::1]:port/ connects over IPv6, echoes, and closes cleanly', async () => {
  const { ws, conn } = await open((s) => s.url(), { host: '::1' });
  expect(ws.url).toBe(`ws://[::1]:${server?.port}/`);
  expect(conn.socket.remoteAddress).toBe('::1');
  expect(conn.request.headers.get('host')).toBe(`[::1]:${server?.port}`);
  const outcome = outcomeOf(ws);
  ws.send('six');
  expect((await next<MessageEvent>(ws, 'message')).data).toBe('six');
  ws.close(1000);
  expect(await outcome).toMatchObject({ code: 1000, wasClean: true });
});

test('the Host header carries the port when it is not the default', async () => {
  const { conn } = await open((s) => `ws://127.0.0.1:${s.port}/`);
  expect(conn.request.headers.get('host')).toBe(`127.0.0.1:${server?.port}`);
});

test('a host name is resolved and kept as written in the Host header', async () => {
  // localhost may resolve to ::1 first; the server listens on 127.0.0.1 only.
  const { conn } = await open((s) => `ws://localhost:${s.port}/`);
  expect(conn.request.headers.get('host')).toBe(`localhost:${server?.port}`);
});

test.each([
  ['/', '/'],
  ['', '/'],
  ['/chat/room%201?user=a&x=%20', '/chat/room%201?user=a&x=%20'],
  // The Standard sends the URL record through Fetch, which keeps an empty query's "?"
  // (RFC 6455 §3 would drop it; the WHATWG Standard wins).
  ['/path?', '/path?'],
  ['/über?q=ü', '/%C3%BCber?q=%C3%BC'],
])('the request target for path %j is %j', async (path, target) => {
  const { conn } = await open((s) => `ws://127.0.0.1:${s.port}${path}`);
  expect(conn.request.resource).toBe(target);
});

test('the request carries version 13 and a fresh 16-byte key each time', async () => {
  server = await TestServer.start();
  const a = new WebSocket(server.url());
  const b = new WebSocket(server.url());
  const [ca, cb] = [await server.nextConnection(), await server.nextConnection()];
  for (const conn of [ca, cb]) {
    expect(conn.request.headers.get('sec-websocket-version')).toBe('13');
    expect(Buffer.from(conn.request.key, 'base64')).toHaveLength(16);
  }
  expect(ca.request.key).not.toBe(cb.request.key);
  a.close();
  b.close();
});

/**
 * The kernel's view of the client's TCP socket, from /proc/net/tcp: `tr` is 2 while the
 * keep-alive timer is armed on an idle connection (retransmit and zero-window timers show 1 and 4).
 */
function readTimer(localPort: number): { tr: string; jiffies: number } {
  const hexPort = localPort.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'latin1').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 6 || fields[1] !== `0100007F:${hexPort}`) continue;
    const [tr, when] = fields[5].split(':');
    return { tr, jiffies: parseInt(when, 16) };
  }
  throw new Error(`no socket with local port ${localPort} in /proc/net/tcp`);
}

/**
 * The socket's timer once no data is in flight. Right after the handshake the last segment may
 * still be unacknowledged, and the kernel then shows the retransmit timer (1) in place of the
 * keep-alive timer. No event marks the ACK's arrival, so this polls the kernel's state, bounded.
 */
async function keepAliveTimer(localPort: number): Promise<{ armed: boolean; jiffies: number }> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { tr, jiffies } = readTimer(localPort);
    if (tr !== '01') return { armed: tr === '02', jiffies };
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`port ${localPort}: data still unacknowledged after 2 s`);
}

describe('TCP keep-alive (observed in /proc/net/tcp; Linux)', () => {
  test('is on, with settings.keepAliveMs as the idle time before probes', async () => {
    expect(existsSync('/proc/net/tcp')).toBe(true);
    settings.keepAliveMs = 3000;
    const { conn } = await open((s) => s.url());
    const timer = await keepAliveTimer(conn.socket.remotePort as number);
    expect(timer.armed).toBe(true);
    // USER_HZ is 100 on Linux: 3 s is at most 300 jiffies (the default idle time is 7200 s).
    expect(timer.jiffies).toBeLessThanOrEqual(300);
  });

  test('is off when settings.keepAliveMs is 0', async () => {
    settings.keepAliveMs = 0;
    const { conn } = await open((s) => s.url());
    expect((await keepAliveTimer(conn.socket.remotePort as number)).armed).toBe(false);
  });
});
