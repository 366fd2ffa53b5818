/**
 * HTTP proxies on the wire: the CONNECT request our client writes (as a proxy on loopback records
 * it), the WebSocket handshake through the tunnel (TLS inside it for wss:, checked against the
 * target), proxy credentials that never reach the target, refusals and silent proxies, the
 * per-target queue, and environment proxies in child processes.
 * @see RFC 9110 §9.3.6, https://nodejs.org/api/http.html#built-in-proxy-support
 */
import { execFileSync } from 'node:child_process';
import * as dc from 'node:diagnostics_channel';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { ChannelName } from '../../lib/diagnostics';
import { WebSocket } from '../../lib/ponyfill';
import { TestServer, type TestServerOptions } from '../../lib/server';
import { ConnectProxy, type ConnectProxyOptions } from '../helpers/connect-proxy';
import { FAILED, next, outcomeOf } from '../helpers/events';
import { RawServer } from '../helpers/raw-server';
import { runToEnd, type Line } from '../fixtures/lifecycle/child';

const root = path.resolve(__dirname, '..', '..');
const tlsFixture = (name: string): Buffer => readFileSync(path.join(__dirname, '..', 'fixtures', 'tls', name));
const ca = tlsFixture('ca.pem');
const serverTls = { key: tlsFixture('server-key.pem'), cert: tlsFixture('server.pem') };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function proxyServer(options: ConnectProxyOptions = {}): Promise<ConnectProxy> {
  const p = await ConnectProxy.start(options);
  cleanups.push(() => p.close());
  return p;
}
async function target(options: TestServerOptions = { mode: 'echo' }): Promise<TestServer> {
  const s = await TestServer.start(options);
  cleanups.push(() => s.close());
  return s;
}
async function rawTarget(host?: string): Promise<RawServer> {
  const s = await RawServer.start(host);
  cleanups.push(() => s.close());
  return s;
}
function open(url: string, init: object): WebSocket {
  const ws = new WebSocket(url, init);
  cleanups.push(() => ws.close());
  return ws;
}

/** The reasons published on the fail channel while the test runs. */
function failReasons(): string[] {
  const reasons: string[] = [];
  const onFail = (message: unknown): void => {
    reasons.push((message as { reason: string }).reason);
  };
  dc.subscribe(ChannelName.fail, onFail);
  cleanups.push(() => dc.unsubscribe(ChannelName.fail, onFail));
  return reasons;
}

/** Sends one message and expects it back: the socket carries frames both ways. */
async function echoes(ws: WebSocket, text: string): Promise<void> {
  ws.send(text);
  expect((await next<MessageEvent>(ws, 'message')).data).toBe(text);
}

describe('through a proxy', () => {
  test('ws: through an http: proxy: CONNECT host:port with Host, then the handshake in the tunnel', async () => {
    const server = await target();
    const proxy = await proxyServer();
    const ws = open(server.url('/chat?room=1'), { proxy: proxy.url() });
    const connect = await proxy.next();
    const authority = `127.0.0.1:${server.port}`;
    expect(connect.raw).toBe(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nUser-Agent: node\r\n\r\n`);
    const conn = await server.nextConnection();
    await next(ws, 'open');
    // Through a tunnel the request is the one a direct connection sends: origin-form, Host of the URL.
    expect(conn.request.resource).toBe('/chat?room=1');
    expect(conn.request.headers.get('host')).toBe(authority);
    await echoes(ws, 'through the tunnel');
    const closed = outcomeOf(ws);
    ws.close(1000, 'bye');
    expect(await closed).toMatchObject({ code: 1000, reason: 'bye', wasClean: true });
  });

  test('wss: through an http: proxy: TLS inside the tunnel, with SNI and verification for the target', async () => {
    const server = await target({ mode: 'echo', tls: serverTls });
    const proxy = await proxyServer();
    const ws = open(server.url(), { proxy: proxy.url(), tls: { ca } });
    expect((await proxy.next()).target).toBe(`localhost:${server.port}`);
    const conn = await server.nextConnection();
    await next(ws, 'open');
    expect((conn.socket as tls.TLSSocket).servername).toBe('localhost');
    await echoes(ws, 'tls in the tunnel');
  });

  test('wss: through an https: proxy: TLS to the proxy (its own tls options), and TLS to the target inside it', async () => {
    const server = await target({ mode: 'echo', tls: serverTls });
    const proxy = await proxyServer({ tls: serverTls });
    const ws = open(server.url(), { proxy: { url: proxy.url(), tls: { ca } }, tls: { ca } });
    expect((await proxy.next()).target).toBe(`localhost:${server.port}`);
    await next(ws, 'open');
    await echoes(ws, 'tls in tls');
  });

  test('ws: through an https: proxy', async () => {
    const server = await target();
    const proxy = await proxyServer({ tls: serverTls });
    const ws = open(server.url(), { proxy: { url: new URL(proxy.url()), tls: { ca } } });
    expect((await proxy.next()).target).toBe(`127.0.0.1:${server.port}`);
    await next(ws, 'open');
    await echoes(ws, 'plain text in tls');
  });

  test("an https: proxy is verified against Node's CA store by default: a test CA's proxy fails", async () => {
    const reasons = failReasons();
    const server = await rawTarget();
    const proxy = await proxyServer({ tls: serverTls });
    // The proxy's certificate is signed by the test CA; only the target would trust it (tls).
    expect(await outcomeOf(open(server.url(), { proxy: proxy.url(), tls: { ca } }))).toMatchObject({ ...FAILED, events: ['error', 'close'] });
    expect(reasons[0]).toMatch(new RegExp(`^could not connect to the proxy https://localhost:${proxy.port}: `));
    expect(proxy.seen).toHaveLength(0);
    expect(server.connections).toBe(0);
  });

  test("the target's certificate is checked against the target, not the proxy: a wrong host fails", async () => {
    const reasons = failReasons();
    // A certificate for other.example only, at wss://localhost: the proxy's name would not save it.
    const server = await target({ mode: 'echo', tls: { key: tlsFixture('other-host-key.pem'), cert: tlsFixture('other-host.pem') } });
    const proxy = await proxyServer();
    expect(await outcomeOf(open(server.url(), { proxy: proxy.url(), tls: { ca } }))).toMatchObject({ ...FAILED, events: ['error', 'close'] });
    expect(reasons[0]).toMatch(new RegExp(`^TLS through the proxy http://127\\.0\\.0\\.1:${proxy.port} failed: .*localhost`));
    expect(server.requests).toHaveLength(0);
  });

  test('an IPv6 target is written [::1]:port in the request line and in Host', async () => {
    const server = await target({ mode: 'echo', host: '::1' });
    const proxy = await proxyServer();
    const ws = open(server.url(), { proxy: proxy.url() });
    const connect = await proxy.next();
    expect(connect.head.startLine).toBe(`CONNECT [::1]:${server.port} HTTP/1.1`);
    expect(connect.head.headers.get('host')).toBe(`[::1]:${server.port}`);
    const conn = await server.nextConnection();
    await next(ws, 'open');
    expect(conn.request.headers.get('host')).toBe(`[::1]:${server.port}`);
    await echoes(ws, 'six');
  });

  test('an IPv6 proxy address is reached at its bracketed URL', async () => {
    const server = await target();
    const proxy = await proxyServer({ host: '::1' });
    const ws = open(server.url(), { proxy: proxy.url() });
    expect(proxy.url()).toBe(`http://[::1]:${proxy.port}`);
    await next(ws, 'open');
    expect(proxy.seen).toHaveLength(1);
  });
});

describe('proxy credentials', () => {
  test("the proxy URL's userinfo, percent-decoded as UTF-8, is Basic on the CONNECT and never reaches the target", async () => {
    const server = await rawTarget();
    const proxy = await proxyServer();
    // usér : p@ss:wörd, written percent-encoded as a URL carries them.
    const ws = open(server.url(), { proxy: proxy.url('us%C3%A9r:p%40ss:w%C3%B6rd'), headers: { 'X-App': 'a' } });
    const connect = await proxy.next();
    const expected = `Basic ${Buffer.from('usér:p@ss:wörd', 'utf8').toString('base64')}`;
    expect(connect.head.headers.get('proxy-authorization')).toBe(expected);
    // The handshake headers are the target's alone.
    expect(connect.head.headers.has('x-app')).toBe(false);
    const request = await server.requests.next();
    expect(request.raw).not.toMatch(/proxy-authorization|Basic|us%C3%A9r|p%40ss/i);
    expect(request.head.headers.get('x-app')).toBe('a');
    request.accept();
    await next(ws, 'open');
  });

  test('a Proxy-Authorization in the proxy headers wins over the URL userinfo; the other proxy headers go on the CONNECT only', async () => {
    const server = await rawTarget();
    const proxy = await proxyServer();
    const ws = open(server.url(), {
      proxy: { url: proxy.url('user:secret'), headers: { 'Proxy-Authorization': 'Bearer proxy-token', 'X-Proxy-Tenant': 't1' } },
    });
    const connect = await proxy.next();
    expect(connect.raw.match(/^Proxy-Authorization:.*$/gim)).toEqual(['Proxy-Authorization: Bearer proxy-token']);
    expect(connect.head.headers.get('x-proxy-tenant')).toBe('t1');
    const request = await server.requests.next();
    expect(request.raw).not.toMatch(/proxy-authorization|proxy-token|x-proxy-tenant/i);
    request.accept();
    await next(ws, 'open');
  });

  test('a Proxy-Authorization among the handshake headers goes on the CONNECT instead of to the target', async () => {
    const server = await rawTarget();
    const proxy = await proxyServer();
    const ws = open(server.url(), { proxy: proxy.url('user:from-url'), headers: { 'Proxy-Authorization': 'Basic Z2l2ZW46eA==', Authorization: 'Bearer target-token' } });
    const connect = await proxy.next();
    expect(connect.raw.match(/^Proxy-Authorization:.*$/gim)).toEqual(['Proxy-Authorization: Basic Z2l2ZW46eA==']);
    expect(connect.raw).not.toMatch(/target-token/);
    const request = await server.requests.next();
    expect(request.raw).not.toMatch(/proxy-authorization|Z2l2ZW46eA/i);
    expect(request.head.headers.get('authorization')).toBe('Bearer target-token');
    request.accept();
    await next(ws, 'open');
  });

  test("a 401 retry with the URL's credentials goes through the proxy again, on a new tunnel; each credential goes to its own party", async () => {
    const server = await rawTarget();
    const proxy = await proxyServer();
    const ws = open(`ws://site:pw@127.0.0.1:${server.port}/`, { proxy: proxy.url('proxy:pp') });
    const first = await server.requests.next();
    expect(first.head.headers.has('authorization')).toBe(false);
    first.socket.write('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="x"\r\nContent-Length: 0\r\n\r\n');
    const second = await server.requests.next();
    expect(second.head.headers.get('authorization')).toBe(`Basic ${Buffer.from('site:pw').toString('base64')}`);
    expect(second.raw).not.toMatch(/proxy-authorization/i);
    second.accept();
    await next(ws, 'open');
    const proxyAuth = `Basic ${Buffer.from('proxy:pp').toString('base64')}`;
    expect(proxy.seen.map((r) => [r.target, r.head.headers.get('proxy-authorization'), r.head.headers.has('authorization')])).toEqual([
      [`127.0.0.1:${server.port}`, proxyAuth, false],
      [`127.0.0.1:${server.port}`, proxyAuth, false],
    ]);
  });

  test('the User-Agent given for the handshake is the one the proxy sees; the proxy headers can give their own', async () => {
    const server = await rawTarget();
    const proxy = await proxyServer();
    open(server.url(), { proxy: proxy.url(), headers: { 'User-Agent': 'app/1.0' } });
    expect((await proxy.next()).head.headers.get('user-agent')).toBe('app/1.0');
    (await server.requests.next()).socket.destroy();
    open(server.url('127.0.0.1', '/2'), { proxy: { url: proxy.url(), headers: { 'User-Agent': 'proxy-ua' } }, headers: { 'User-Agent': 'app/1.0' } });
    const connect = await proxy.next();
    expect(connect.raw.match(/^User-Agent:.*$/gim)).toEqual(['User-Agent: proxy-ua']);
    expect((await server.requests.next()).head.headers.get('user-agent')).toBe('app/1.0');
  });
});

describe('proxy failures', () => {
  test.each([
    [407, 'Proxy Authentication Required', 'Proxy-Authenticate: Basic realm="proxy"\r\n'],
    [502, 'Bad Gateway', ''],
  ])('a %i answer fails the connection (error, then close 1006), naming the proxy and the status', async (status, statusText, headers) => {
    const reasons = failReasons();
    const server = await rawTarget();
    const proxy = await proxyServer({ behaviour: { kind: 'refuse', status, statusText, headers } });
    const outcome = outcomeOf(open(server.url(), { proxy: proxy.url('user:hunter2') }));
    expect(await outcome).toMatchObject({ ...FAILED, events: ['error', 'close'] });
    expect(reasons).toEqual([`the proxy http://127.0.0.1:${proxy.port} refused the CONNECT to 127.0.0.1:${server.port}: ${status} ${statusText}`]);
    // The credentials stay out of the diagnostics, and nothing reached the target.
    expect(reasons[0]).not.toMatch(/hunter2|user/);
    expect(server.connections).toBe(0);
  });

  test('a proxy that closes without answering fails the connection', async () => {
    const reasons = failReasons();
    const server = await rawTarget();
    const proxy = await proxyServer({ behaviour: { kind: 'close' } });
    expect(await outcomeOf(open(server.url(), { proxy: proxy.url() }))).toMatchObject({ ...FAILED, events: ['error', 'close'] });
    expect(reasons).toEqual([`the proxy http://127.0.0.1:${proxy.port} closed the connection without answering the CONNECT to 127.0.0.1:${server.port}`]);
  });

  test('a proxy that cannot be reached fails the connection, naming it', async () => {
    const reasons = failReasons();
    const server = await rawTarget();
    // A port that was just free: nothing listens there any more.
    const gone = await ConnectProxy.start();
    const url = gone.url();
    await gone.close();
    expect(await outcomeOf(open(server.url(), { proxy: url }))).toMatchObject({ ...FAILED, events: ['error', 'close'] });
    expect(reasons[0]).toMatch(new RegExp(`^could not connect to the proxy ${url.replace(/\./g, '\\.')}: .*ECONNREFUSED`));
  });

  test('an answer that is not HTTP fails the connection', async () => {
    const reasons = failReasons();
    const server = await rawTarget();
    const proxy = await proxyServer({ behaviour: { kind: 'raw', bytes: 'SSH-2.0-OpenSSH\r\n\r\n' } });
    expect(await outcomeOf(open(server.url(), { proxy: proxy.url() }))).toMatchObject({ ...FAILED, events: ['error', 'close'] });
    expect(reasons[0]).toMatch(/sent an invalid answer to the CONNECT to .*"SSH-2\.0-OpenSSH" is not an HTTP\/1\.1 status line/);
  });

  test('a proxy that never answers runs into handshakeTimeout, which says where it was waiting, and its socket is closed', async () => {
    const reasons = failReasons();
    const server = await rawTarget();
    const proxy = await proxyServer({ behaviour: { kind: 'silent' } });
    const started = performance.now();
    const outcome = outcomeOf(open(server.url(), { proxy: proxy.url(), handshakeTimeout: 300 }));
    await proxy.next();
    expect(await outcome).toMatchObject({ ...FAILED, events: ['error', 'close'] });
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(reasons).toEqual([
      `no valid handshake response within 300 ms (still waiting for the proxy http://127.0.0.1:${proxy.port} to answer the CONNECT to 127.0.0.1:${server.port})`,
    ]);
    await proxy.disconnects.next(5000, 'the client to close its socket to the proxy');
  });

  test('close() while the proxy has not answered: close 1006 at once, and the socket to the proxy is closed', async () => {
    const server = await rawTarget();
    const proxy = await proxyServer({ behaviour: { kind: 'silent' } });
    const ws = open(server.url(), { proxy: proxy.url() });
    const outcome = outcomeOf(ws);
    await proxy.next();
    ws.close();
    expect(await outcome).toMatchObject({ ...FAILED, events: ['error', 'close'] });
    await proxy.disconnects.next(5000, 'the client to close its socket to the proxy');
    expect(server.connections).toBe(0);
  });

  test('a 1xx before the 200 is skipped', async () => {
    const server = await rawTarget();
    const proxy = await proxyServer({ behaviour: { kind: 'raw', bytes: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nHTTP/1.1 403 Forbidden\r\n\r\n' } });
    const statuses: number[] = [];
    const onHandshake = (message: unknown): void => {
      statuses.push((message as { status: number }).status);
    };
    dc.subscribe(ChannelName.handshake, onHandshake);
    cleanups.push(() => dc.unsubscribe(ChannelName.handshake, onHandshake));
    expect(await outcomeOf(open(server.url(), { proxy: proxy.url() }))).toMatchObject({ ...FAILED, events: ['error', 'close'] });
    // The 403 after the 200 was read as the target's handshake response.
    expect(statuses).toEqual([403]);
  });
});

describe('bytes after the CONNECT answer belong to the tunnel', () => {
  test('ws: a response that came in the same read as the 200 is the handshake response', async () => {
    const server = await rawTarget();
    const reasons = failReasons();
    const proxy = await proxyServer({ behaviour: { kind: 'raw', bytes: 'HTTP/1.1 200 Connection Established\r\n\r\nHTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n' } });
    // Lost, those bytes would leave the handshake waiting for its 10 s timeout instead.
    const outcome = outcomeOf(open(server.url(), { proxy: proxy.url(), handshakeTimeout: 10_000 }), 5000);
    expect(await outcome).toMatchObject({ ...FAILED, events: ['error', 'close'] });
    expect(reasons[0]).toMatch(/^invalid handshake response: .*403/);
  });

  test('wss: they are the first bytes the TLS handshake reads', async () => {
    const server = await rawTarget();
    const reasons = failReasons();
    // Not a TLS record: TLS must see them (and fail at once) rather than wait for a ServerHello.
    const proxy = await proxyServer({ behaviour: { kind: 'raw', bytes: 'HTTP/1.1 200 Connection Established\r\n\r\nnot a TLS record at all\r\n' } });
    const outcome = outcomeOf(open(`wss://localhost:${server.port}/`, { proxy: proxy.url(), tls: { ca }, handshakeTimeout: 10_000 }), 5000);
    expect(await outcome).toMatchObject({ ...FAILED, events: ['error', 'close'] });
    expect(reasons[0]).toMatch(/^TLS through the proxy http:\/\/127\.0\.0\.1:\d+ failed: /);
  });
});

describe('the RFC 6455 §4.1 queue through a proxy', () => {
  test('is keyed by the target host name and port: a second socket to it waits; another name does not', async () => {
    const server = await rawTarget();
    const proxy = await proxyServer();
    const first = open(server.url(), { proxy: proxy.url() });
    const second = open(server.url('127.0.0.1', '/second'), { proxy: proxy.url() });
    // localhost is not resolved by us: it is another key, whatever address it names.
    const byName = open(server.url('localhost', '/by-name'), { proxy: proxy.url() });
    const requests = [await server.requests.next(), await server.requests.next()];
    const paths = requests.map((r) => r.head.startLine.split(' ')[1]).sort();
    expect(paths).toEqual(['/', '/by-name']);
    // Let a third, unrelated connection through the same proxy open fully, so the second has had
    // every chance to move.
    const other = await rawTarget();
    const elsewhere = open(other.url(), { proxy: proxy.url() });
    (await other.requests.next()).accept();
    await next(elsewhere, 'open');
    expect(proxy.seen.map((r) => r.target).filter((t) => t === `127.0.0.1:${server.port}`)).toHaveLength(1);
    expect(second.readyState).toBe(WebSocket.CONNECTING);
    for (const request of requests) request.accept();
    await Promise.all([next(first, 'open'), next(byName, 'open')]);
    const secondRequest = await server.requests.next();
    expect(secondRequest.head.startLine).toBe('GET /second HTTP/1.1');
    secondRequest.accept();
    await next(second, 'open');
  });
});

// --- environment proxies, each case in a Node process of its own -------------------------------

const envClient = path.join(__dirname, '..', 'fixtures', 'proxy', 'env-client.js');
const distIndex = path.join(root, 'dist', 'index.js');
// Node has proxy support of its own from 22.21 and 24.5 (--use-env-proxy, NODE_USE_ENV_PROXY).
const nodeHasEnvProxies = process.allowedNodeEnvironmentFlags.has('--use-env-proxy');
// On older versions the flag cases run on Node 24, which knows the flag.
const flagNode = nodeHasEnvProxies ? process.execPath : path.join(root, 'node_modules', 'node-24', 'bin', 'node');
// Versions with proxy support refuse an unparsable proxy URL at startup themselves; the case of
// one that reaches us runs on a version without it (Node 18), where our check alone stops it.
const preProxyNode = nodeHasEnvProxies ? path.join(root, 'node_modules', 'node-18', 'bin', 'node') : process.execPath;

function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) t = Math.max(t, statSync(path.join(dir, name)).mtimeMs);
  return t;
}

describe('environment proxies', () => {
  beforeAll(() => {
    // The children load the built package; a direct jest run builds it when dist/ is missing or stale.
    if (!existsSync(distIndex) || statSync(distIndex).mtimeMs < newest(path.join(root, 'lib'))) {
      execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'pipe' });
    }
  }, 120_000);

  /** This process's environment without anything proxy-related, plus `extra`. */
  function env(extra: Record<string, string>): NodeJS.ProcessEnv {
    const clean: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (!/^(https?_proxy|no_proxy|node_use_env_proxy|node_options)$/i.test(name)) clean[name] = value;
    }
    // Node 22 warns that its own env-proxy agent is experimental; the children's stderr must stay empty.
    return { ...clean, NODE_NO_WARNINGS: '1', ...extra };
  }

  /** Runs the client script to its end; returns its lines. */
  async function client(url: string, extra: Record<string, string>, options?: object, { node = process.execPath, execArgv = [] as string[] } = {}): Promise<Line[]> {
    const result = await runToEnd([...execArgv, envClient, url, ...(options === undefined ? [] : [JSON.stringify(options)])], { node, env: env(extra) });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    return result.lines;
  }

  const OPENED = [{ event: 'open' }, { event: 'close', code: 1000, wasClean: true }];

  test('NODE_USE_ENV_PROXY=1: ws: goes through http_proxy, which wins over HTTP_PROXY', async () => {
    const server = await target();
    const proxy = await proxyServer();
    const lines = await client(server.url(), { NODE_USE_ENV_PROXY: '1', http_proxy: proxy.url(), HTTP_PROXY: 'http://127.0.0.1:9' });
    expect(lines).toEqual(OPENED);
    expect(proxy.seen.map((r) => r.target)).toEqual([`127.0.0.1:${server.port}`]);
  });

  test('NODE_USE_ENV_PROXY=1: HTTP_PROXY alone is used, with its credentials', async () => {
    const server = await target();
    const proxy = await proxyServer();
    expect(await client(server.url(), { NODE_USE_ENV_PROXY: '1', HTTP_PROXY: proxy.url('env:pw') })).toEqual(OPENED);
    expect(proxy.seen[0].head.headers.get('proxy-authorization')).toBe(`Basic ${Buffer.from('env:pw').toString('base64')}`);
    expect(server.requests[0].headers.has('proxy-authorization')).toBe(false);
  });

  test('NODE_USE_ENV_PROXY=1: wss: goes through https_proxy (not http_proxy), TLS to the target inside it', async () => {
    const server = await target({ mode: 'echo', tls: serverTls });
    const proxy = await proxyServer();
    const caFile = path.join(__dirname, '..', 'fixtures', 'tls', 'ca.pem');
    const lines = await client(server.url(), { NODE_USE_ENV_PROXY: '1', https_proxy: proxy.url(), http_proxy: 'http://127.0.0.1:9' }, { caFile });
    expect(lines).toEqual(OPENED);
    expect(proxy.seen.map((r) => r.target)).toEqual([`localhost:${server.port}`]);
  });

  test('--use-env-proxy on the command line turns them on', async () => {
    const server = await target();
    const proxy = await proxyServer();
    expect(await client(server.url(), { http_proxy: proxy.url() }, undefined, { node: flagNode, execArgv: ['--use-env-proxy'] })).toEqual(OPENED);
    expect(proxy.seen).toHaveLength(1);
  });

  test('--use-env-proxy in NODE_OPTIONS turns them on', async () => {
    const server = await target();
    const proxy = await proxyServer();
    expect(await client(server.url(), { http_proxy: proxy.url(), NODE_OPTIONS: '--use-env-proxy' }, undefined, { node: flagNode })).toEqual(OPENED);
    expect(proxy.seen).toHaveLength(1);
  });

  test('--no-use-env-proxy on the command line wins over NODE_USE_ENV_PROXY=1', async () => {
    const server = await target();
    const proxy = await proxyServer();
    expect(await client(server.url(), { NODE_USE_ENV_PROXY: '1', http_proxy: proxy.url() }, undefined, { node: flagNode, execArgv: ['--no-use-env-proxy'] })).toEqual(OPENED);
    expect(proxy.seen).toHaveLength(0);
  });

  test('without the flag or NODE_USE_ENV_PROXY=1, http_proxy and https_proxy are not used', async () => {
    const server = await target();
    const proxy = await proxyServer();
    expect(await client(server.url(), { http_proxy: proxy.url(), HTTP_PROXY: proxy.url(), NODE_USE_ENV_PROXY: '0' })).toEqual(OPENED);
    expect(proxy.connections).toBe(0);
  });

  test('proxy: null skips them', async () => {
    const server = await target();
    const proxy = await proxyServer();
    expect(await client(server.url(), { NODE_USE_ENV_PROXY: '1', http_proxy: proxy.url() }, { proxy: null })).toEqual(OPENED);
    expect(proxy.connections).toBe(0);
  });

  test('an explicit proxy option wins over them', async () => {
    const server = await target();
    const envProxy = await proxyServer();
    const explicit = await proxyServer();
    expect(await client(server.url(), { NODE_USE_ENV_PROXY: '1', http_proxy: envProxy.url() }, { proxy: explicit.url() })).toEqual(OPENED);
    expect([envProxy.connections, explicit.seen.length]).toEqual([0, 1]);
  });

  test('a socketPath connection never goes through them', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'polyfill-proxy-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const socketPath = path.join(dir, 'ws.sock');
    const server = await RawServer.startOnPath(socketPath);
    cleanups.push(() => server.close());
    const proxy = await proxyServer();
    const done = client('ws://app.internal/', { NODE_USE_ENV_PROXY: '1', http_proxy: proxy.url() }, { socketPath });
    const request = await server.requests.next();
    request.accept();
    // The client closes once open; answer its Close frame so that it closes cleanly.
    request.socket.once('data', () => request.socket.end(Buffer.from([0x88, 0x02, 0x03, 0xe8])));
    expect(await done).toEqual(OPENED);
    expect(proxy.connections).toBe(0);
  });

  test.each([
    ['*', 'direct'],
    ['127.0.0.1', 'direct'],
    [' other.example , 127.0.0.1 ', 'direct'],
    ['127.0.0.1:PORT', 'direct'],
    ['127.0.0.1:1', 'proxy'],
    ['127.0.0.2,example.com', 'proxy'],
  ])('NO_PROXY=%j: %s', async (noProxy, way) => {
    const server = await target();
    const proxy = await proxyServer();
    const NO_PROXY = noProxy.replace('PORT', String(server.port));
    expect(await client(server.url(), { NODE_USE_ENV_PROXY: '1', http_proxy: proxy.url(), NO_PROXY })).toEqual(OPENED);
    expect(proxy.seen).toHaveLength(way === 'proxy' ? 1 : 0);
  });

  test('no_proxy wins over NO_PROXY', async () => {
    const server = await target();
    const proxy = await proxyServer();
    expect(await client(server.url(), { NODE_USE_ENV_PROXY: '1', http_proxy: proxy.url(), no_proxy: 'example.com', NO_PROXY: '*' })).toEqual(OPENED);
    expect(proxy.seen).toHaveLength(1);
  });

  test('an IPv6 target is exempted by its address in NO_PROXY', async () => {
    const server = await target({ mode: 'echo', host: '::1' });
    const proxy = await proxyServer();
    expect(await client(server.url(), { NODE_USE_ENV_PROXY: '1', http_proxy: proxy.url(), NO_PROXY: `[::1]:${server.port}` })).toEqual(OPENED);
    expect(proxy.seen).toHaveLength(0);
  });

  test('a proxy variable that is not a URL fails the connection instead of going direct', async () => {
    const server = await target();
    const lines = await client(server.url(), { NODE_USE_ENV_PROXY: '1', http_proxy: 'http://user:pw@[bad/' }, undefined, { node: preProxyNode });
    expect(lines).toEqual([
      { event: 'fail', reason: 'the http_proxy environment variable "http://[redacted]@[bad/" is not a valid proxy URL' },
      { event: 'error' },
      { event: 'close', code: 1006, wasClean: false },
    ]);
    expect(server.requests).toHaveLength(0);
  });
});
