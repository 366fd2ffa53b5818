/**
 * Dialing: from a URL and its options to a connected duplex that the opening handshake can be
 * written on. It resolves the host, waits its turn in RFC 6455 §4.1's per-address queue, and
 * opens the TCP or TLS socket, directly or through an HTTP proxy's CONNECT tunnel. A dial
 * reports once, to its {@link DialHandler}; it never throws.
 * @see RFC 6455 §4.1 (steps 1-4 of the client's requirements), RFC 9110 §9.3.6
 */
import * as dns from 'node:dns';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { EMPTY } from './constants';
import { DEFAULT_USER_AGENT, HttpHeadReader } from './handshake';
import type { ConnectOptions, ProxyConfig } from './options';
import { buildConnectRequest, connectStatus, effectivePort, proxyFromEnvironment, proxyName } from './proxy';
import { settings } from './settings';

/**
 * Plain TCP sockets (and Unix sockets) are read into one buffer shared by all of them
 * (`onread`), not into a fresh 64 KiB buffer per read: the owner handles each read at once, as
 * the function under this key, and copies whatever it keeps (FrameParser's borrowed chunks).
 * That spares an allocation and its collection per read, and Node's stream machinery.
 */
export const kOnRead = Symbol('polyfill.onRead');
/** Reads that came before the owner took the socket (copies), for it to handle first. */
export const kEarlyReads = Symbol('polyfill.earlyReads');
export type ReadingSocket = net.Socket & { [kOnRead]?: (this: net.Socket, chunk: Buffer) => void; [kEarlyReads]?: Buffer[] };

const READ_SIZE = 64 * 1024;
let readBuffer: Buffer | null = null;

function onSocketRead(this: ReadingSocket, nread: number, buffer: Uint8Array): boolean {
  const chunk = Buffer.from(buffer.buffer, buffer.byteOffset, nread);
  const handler = this[kOnRead];
  if (handler !== undefined) handler.call(this, chunk);
  else (this[kEarlyReads] ??= []).push(Buffer.from(chunk));
  // true: go on reading (false would pause the socket).
  return true;
}

/** What a dial tells its owner, exactly once. */
export interface DialHandler {
  /**
   * `socket` is connected (and, for `wss:`, its TLS handshake is done). `head` holds bytes
   * already read from it (a proxy's answer and the first tunnel bytes in one read), which come
   * before anything the socket emits.
   */
  onDialed(socket: net.Socket, head: Buffer): void;
  /** No socket could be made; `reason` says why, for the fail diagnostics. */
  onDialFailed(reason: string, error?: unknown): void;
}

type LookupResult = readonly dns.LookupAddress[];

// RFC 6455 §4.1 step 2: at most one connection per remote address in CONNECTING. Each key maps
// to its dials in arrival order; the first one is the one connecting, the rest wait.
const queues = new Map<string, Dial[]>();

/**
 * One attempt to get a connected socket for a WebSocket URL. The queue slot it takes is held
 * until {@link cancel}, which the connection calls when its handshake has ended, so that a 401
 * retry on a second socket ({@link redial}) keeps it.
 */
export class Dial {
  readonly #url: URL;
  readonly #options: ConnectOptions;
  readonly #handler: DialHandler;
  readonly #host: string;
  readonly #port: number;
  /** The proxy this dial goes through, if any (the option's, or the environment's). @see RFC 9110 §9.3.6 */
  readonly proxy: ProxyConfig | null;
  #addresses: LookupResult | null = null;
  #queueKey: string | null = null;
  // The socket not yet handed over, and under it the tunnel to the proxy while TLS to the target
  // is being set up inside it; cancel() destroys both.
  #socket: net.Socket | null = null;
  #tunnel: net.Socket | null = null;
  // What the dial is waiting for, for the handshake timeout's message.
  #stage = 'resolving the host';
  #done = false; // reported, cancelled or released: nothing more happens

  constructor(url: URL, options: ConnectOptions, handler: DialHandler) {
    this.#url = url;
    this.#options = options;
    this.#handler = handler;
    // URL keeps the brackets of an IPv6 literal in `hostname`; sockets want the bare address.
    this.#host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.#port = effectivePort(url);
    // The proxy: the option's; else, for host:port dials, the environment's, read now, when the
    // WebSocket is constructed. A Unix socket is never proxied; `proxy: null` turns it off.
    let proxy = options.proxy ?? null;
    if (options.proxy === undefined && options.socketPath === null) {
      const fromEnv = proxyFromEnvironment(url, process);
      if (fromEnv.kind === 'invalid') {
        // Reported after the constructor has returned, as every dial failure is.
        this.proxy = null;
        process.nextTick(() => this.#fail(fromEnv.reason));
        return;
      }
      if (fromEnv.kind === 'proxy') proxy = fromEnv.proxy;
    }
    this.proxy = proxy;
    this.#resolve();
  }

  /** What the dial is still waiting for, in words; null once the socket has been handed over. @see RFC 6455 §4.1 */
  get waitingFor(): string | null {
    return this.#done || this.#stage === '' ? null : this.#stage;
  }

  /**
   * Ends the dial wherever it is: leaves the queue (the handshake has ended, or was abandoned),
   * and destroys a socket not yet handed over.
   */
  cancel(): void {
    if (this.#done) return;
    this.#done = true;
    this.#leaveQueue();
    const socket = this.#socket;
    const tunnel = this.#tunnel;
    this.#socket = null;
    this.#tunnel = null;
    socket?.destroy();
    tunnel?.destroy();
  }

  /** A second socket to the same address, keeping the queue slot (the 401 retry). */
  redial(): void {
    this.#connect();
  }

  // 1. Resolve the host, so that the queue is keyed by address (two names for one address share
  //    it). An IP literal needs no lookup.
  #resolve(): void {
    if (this.#options.socketPath !== null) {
      // A Unix domain socket has no address to resolve; its path is its queue key.
      this.#join(`unix:${this.#options.socketPath}`);
      return;
    }
    if (this.proxy !== null) {
      // Through a proxy the target's address is the proxy's to find (we may not even be able to
      // resolve it), so the queue is keyed by the host name and port as written, as Chromium
      // keys it for proxied connections; the URL's hostname keeps an IPv6 literal's brackets.
      this.#join(`${this.#url.hostname}:${this.#port}`);
      return;
    }
    const family = net.isIP(this.#host);
    if (family !== 0) {
      this.#resolved([{ address: this.#host, family }]);
      return;
    }
    dns.lookup(this.#host, { all: true }, (error, addresses) => {
      if (this.#done) return;
      if (error || addresses.length === 0) {
        this.#fail(`could not resolve ${this.#host}: ${error?.message ?? 'no addresses'}`, error);
        return;
      }
      this.#resolved(addresses);
    });
  }

  // 2. Join the queue of the first address (the one tried first); connect when first in line.
  #resolved(addresses: LookupResult): void {
    this.#addresses = addresses;
    const first = addresses[0];
    this.#join(`${first.family === 6 ? `[${first.address}]` : first.address}:${this.#port}`);
  }

  /** Takes a place in the queue for `key`, and connects when it is first (or skips the queue). */
  #join(key: string): void {
    if (this.#options.parallelConnect) {
      this.#connect();
      return;
    }
    this.#queueKey = key;
    const queue = queues.get(key);
    if (queue === undefined) {
      queues.set(key, [this]);
      this.#connect();
    } else {
      this.#stage = `waiting in the queue behind another connection to ${key} (RFC 6455 §4.1)`;
      queue.push(this);
    }
  }

  #leaveQueue(): void {
    const key = this.#queueKey;
    if (key === null) return;
    this.#queueKey = null;
    const queue = queues.get(key) as Dial[];
    const wasFirst = queue[0] === this;
    queue.splice(queue.indexOf(this), 1);
    if (queue.length === 0) queues.delete(key);
    else if (wasFirst) queue[0].#connect();
  }

  // 3. Open the socket to the resolved addresses (all of them, so that Node's happy eyeballs
  //    can fall back), with TLS for wss:.
  #connect(): void {
    if (this.#done) return;
    if (this.proxy !== null) {
      this.#connectToProxy(this.proxy);
      return;
    }
    this.#stage = `connecting to ${this.#options.socketPath ?? this.#url.host}`;
    const host = this.#host;
    const secure = this.#url.protocol === 'wss:';
    const socketPath = this.#options.socketPath;
    // Where to connect: the Unix socket, or the resolved addresses (all of them, through a
    // lookup that answers from what was resolved).
    let where: net.NetConnectOpts;
    if (socketPath !== null) {
      where = { path: socketPath };
    } else {
      const addresses = this.#addresses as LookupResult;
      const lookup = (_host: string, opts: dns.LookupOptions, callback: (...args: unknown[]) => void): void => {
        if (opts.all) callback(null, addresses);
        else callback(null, addresses[0].address, addresses[0].family);
      };
      where = { host, port: this.#port, lookup: lookup as unknown as net.LookupFunction };
    }
    const socket = secure
      ? tls.connect({
          ...this.#options.tls,
          ...where,
          // SNI carries host names only (RFC 6066 §3); over a Unix socket the URL still names the host.
          servername: this.#options.tls.servername ?? (net.isIP(host) === 0 ? host : undefined),
          ALPNProtocols: ['http/1.1'],
        } as tls.ConnectionOptions)
      : net.connect({ ...where, onread: { buffer: (readBuffer ??= Buffer.allocUnsafeSlow(READ_SIZE)), callback: onSocketRead } });
    this.#socket = socket;
    const onError = (error: Error): void => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      socket.destroy();
      this.#fail(`connection error: ${error.message}`, error);
    };
    socket.once('error', onError);
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      if (this.#socket !== socket) return;
      socket.removeListener('error', onError);
      this.#handOver(socket, EMPTY);
    });
  }

  // 3 (through a proxy). Connect to the proxy (TLS for an https: proxy, verified against Node's
  //    CA store unless its tls options say otherwise), and ask it for a tunnel to the target.
  #connectToProxy(proxy: ProxyConfig): void {
    const name = proxyName(proxy.url);
    const authority = `${this.#url.hostname}:${this.#port}`;
    const proxyHost = proxy.url.hostname.startsWith('[') ? proxy.url.hostname.slice(1, -1) : proxy.url.hostname;
    const where = { host: proxyHost, port: effectivePort(proxy.url) };
    const secure = proxy.url.protocol === 'https:';
    this.#stage = `connecting to the proxy ${name}`;
    const socket = secure
      ? tls.connect({
          ...proxy.tls,
          ...where,
          servername: proxy.tls.servername ?? (net.isIP(proxyHost) === 0 ? proxyHost : undefined),
          ALPNProtocols: ['http/1.1'],
        } as tls.ConnectionOptions)
      : net.connect(where);
    this.#socket = socket;
    let reader: HttpHeadReader | null = null;
    const detach = (): void => {
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      socket.removeListener('data', onData);
    };
    const failWith = (reason: string, error?: unknown): void => {
      detach();
      this.#socket = null;
      socket.on('error', ignoreError);
      socket.destroy();
      this.#fail(reason, error);
    };
    const onError = (error: Error): void => {
      if (this.#socket !== socket) return;
      failWith(reader === null ? `could not connect to the proxy ${name}: ${error.message}` : `the connection to the proxy ${name} failed: ${error.message}`, error);
    };
    const onClose = (): void => {
      if (this.#socket !== socket) return;
      failWith(`the proxy ${name} closed the connection without answering the CONNECT to ${authority}`);
    };
    const onData = (chunk: Buffer): void => {
      if (this.#socket !== socket || reader === null) return;
      let result = reader.push(chunk);
      for (;;) {
        if (result.kind === 'more') return;
        if (result.kind === 'error') {
          failWith(`the proxy ${name} sent an invalid answer to the CONNECT to ${authority}: ${result.message}`);
          return;
        }
        const status = connectStatus(result.head);
        if (status.kind === 'interim') {
          // A 1xx before the final answer: read on, from the bytes after it.
          reader = new HttpHeadReader(settings.maxHandshakeHeadSize);
          result = result.rest.length > 0 ? reader.push(result.rest) : { kind: 'more' };
          continue;
        }
        if (status.kind === 'invalid') {
          failWith(`the proxy ${name} sent an invalid answer to the CONNECT to ${authority}: ${JSON.stringify(status.startLine)} is not an HTTP/1.1 status line`);
          return;
        }
        if (status.kind === 'refused') {
          const text = status.statusText === '' ? '' : ` ${status.statusText}`;
          failWith(`the proxy ${name} refused the CONNECT to ${authority}: ${status.status}${text}`);
          return;
        }
        // 2xx: the tunnel is open; the bytes after the head are the target's.
        detach();
        this.#tunnelOpen(socket, result.rest, name);
        return;
      }
    };
    socket.on('error', onError);
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      if (this.#socket !== socket) return;
      this.#stage = `waiting for the proxy ${name} to answer the CONNECT to ${authority}`;
      socket.setNoDelay(true);
      reader = new HttpHeadReader(settings.maxHandshakeHeadSize);
      socket.on('data', onData);
      socket.on('close', onClose);
      socket.write(
        buildConnectRequest({ authority, proxy, userAgent: this.#userAgent(), authorization: this.#givenProxyAuthorization() }),
        'latin1',
      );
    });
  }

  // 4 (through a proxy). The tunnel is open: for ws: it is the socket; for wss:, TLS to the target
  //    goes inside it, with SNI and certificate checks against the target, never the proxy.
  #tunnelOpen(tunnel: net.Socket, rest: Buffer, name: string): void {
    if (this.#url.protocol !== 'wss:') {
      this.#handOver(tunnel, rest);
      return;
    }
    // TLS reads what the tunnel socket has buffered before it takes over: put the bytes that
    // came with the proxy's answer back, and hold the stream so none is emitted meanwhile.
    tunnel.pause();
    if (rest.length > 0) tunnel.unshift(rest);
    const host = this.#host;
    this.#stage = `in the TLS handshake with ${this.#url.host} through the proxy ${name}`;
    const secured = tls.connect({
      ...this.#options.tls,
      socket: tunnel,
      // The identity to check: the target's host, not the host the tunnel socket was made for.
      host,
      servername: this.#options.tls.servername ?? (net.isIP(host) === 0 ? host : undefined),
      ALPNProtocols: ['http/1.1'],
    } as tls.ConnectionOptions);
    this.#socket = secured;
    this.#tunnel = tunnel;
    // The tunnel's own failures end the TLS socket on it (the owner listens on that one).
    const onTunnelError = (error: Error): void => {
      secured.destroy(error);
    };
    tunnel.on('error', onTunnelError);
    tunnel.once('close', () => secured.destroy());
    const onError = (error: Error): void => {
      if (this.#socket !== secured) return;
      this.#socket = null;
      this.#tunnel = null;
      secured.on('error', ignoreError);
      secured.destroy();
      tunnel.destroy();
      this.#fail(`TLS through the proxy ${name} failed: ${error.message}`, error);
    };
    secured.on('error', onError);
    secured.once('secureConnect', () => {
      if (this.#socket !== secured) return;
      secured.removeListener('error', onError);
      this.#tunnel = null;
      this.#handOver(secured, EMPTY);
    });
  }

  /** The socket is ready for the handshake: it is the owner's now. */
  #handOver(socket: net.Socket, head: Buffer): void {
    this.#socket = null;
    this.#stage = '';
    this.#handler.onDialed(socket, head);
  }

  /** The handshake's User-Agent (a given one, else ours), which the CONNECT carries too. */
  #userAgent(): string {
    const given = this.#options.headers.find(([name]) => name.toLowerCase() === 'user-agent');
    return given === undefined ? DEFAULT_USER_AGENT : given[1];
  }

  /** A Proxy-Authorization given among the handshake headers: it is the proxy's, never the target's. */
  #givenProxyAuthorization(): string | undefined {
    return this.#options.headers.find(([name]) => name.toLowerCase() === 'proxy-authorization')?.[1];
  }

  #fail(reason: string, error?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#leaveQueue();
    this.#handler.onDialFailed(reason, error);
  }
}

// A socket we dropped may still report an error; nobody is listening for it.
function ignoreError(): void {}
