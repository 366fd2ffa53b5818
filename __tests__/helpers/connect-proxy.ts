/**
 * An HTTP CONNECT proxy on loopback for the proxy tests, written with `net` (or `tls`, for an
 * `https:` proxy): it records every CONNECT request head as the client wrote it, and answers
 * the way the test asks: open the tunnel, refuse with a status, never answer, or close.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { HttpHeadReader, type HttpHead } from '../../lib/handshake';
import { AsyncQueue } from '../../lib/server';

/** One CONNECT request as the proxy received it. */
export interface ConnectRequest {
  /** The request head exactly as written, up to and including the blank line. */
  raw: string;
  head: HttpHead;
  /** The request target: `host:port`. */
  target: string;
}

/**
 * How the proxy answers a CONNECT:
 * - `tunnel`: connects to the target (only loopback targets are allowed) and answers 200;
 * - `refuse`: answers with `status` and closes;
 * - `silent`: reads the request and never answers;
 * - `close`: closes the connection without answering;
 * - `raw`: writes `bytes` in one write and then stays silent (for bytes after the head).
 */
export type ProxyBehaviour =
  | { kind: 'tunnel' }
  | { kind: 'refuse'; status: number; statusText: string; headers?: string }
  | { kind: 'silent' }
  | { kind: 'close' }
  | { kind: 'raw'; bytes: string | Buffer };

/** The options of {@link ConnectProxy.start}. */
export interface ConnectProxyOptions {
  /** Host to bind; default 127.0.0.1. */
  host?: string;
  /** Key and certificate: the proxy speaks TLS (an `https:` proxy). */
  tls?: tls.TlsOptions;
  /** How each CONNECT is answered; a tunnel by default. */
  behaviour?: ProxyBehaviour;
}

/** A CONNECT proxy: every request is recorded, and answered as `behaviour` says. */
export class ConnectProxy {
  readonly server: net.Server;
  readonly requests = new AsyncQueue<ConnectRequest>();
  /** Every CONNECT request received so far, in order. */
  readonly seen: ConnectRequest[] = [];
  /** TCP connections accepted so far. */
  connections = 0;
  /** One entry each time a client's connection to the proxy has closed. */
  readonly disconnects = new AsyncQueue<void>();
  behaviour: ProxyBehaviour;
  readonly #secure: boolean;
  readonly #host: string;
  readonly #sockets = new Set<net.Socket>();

  private constructor(options: ConnectProxyOptions) {
    this.behaviour = options.behaviour ?? { kind: 'tunnel' };
    this.#secure = options.tls !== undefined;
    this.#host = options.host ?? '127.0.0.1';
    const onSocket = (socket: net.Socket): void => this.#accept(socket);
    this.server = options.tls ? tls.createServer(options.tls, onSocket) : net.createServer(onSocket);
  }

  /** Starts listening, port 0, and resolves once it listens. */
  static async start(options: ConnectProxyOptions = {}): Promise<ConnectProxy> {
    const proxy = new ConnectProxy(options);
    proxy.server.listen(0, proxy.#host);
    await once(proxy.server, 'listening');
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** `http://host:port` (`https:` with TLS; `localhost` then, which the test certificate names), with optional userinfo. */
  url(userinfo = ''): string {
    const host = this.#secure ? 'localhost' : this.#host.includes(':') ? `[${this.#host}]` : this.#host;
    return `${this.#secure ? 'https' : 'http'}://${userinfo === '' ? '' : `${userinfo}@`}${host}:${this.port}`;
  }

  /** The next CONNECT request, bounded. */
  next(timeoutMs = 5000): Promise<ConnectRequest> {
    return this.requests.next(timeoutMs, 'a CONNECT request at the proxy');
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #track(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    // Tests drop connections on purpose; an error must not crash the test process.
    socket.on('error', () => {});
  }

  #accept(socket: net.Socket): void {
    this.connections++;
    this.#track(socket);
    socket.once('close', () => this.disconnects.push());
    const reader = new HttpHeadReader();
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      const result = reader.push(chunk);
      if (result.kind === 'more') return;
      socket.removeListener('data', onData);
      if (result.kind === 'error') {
        socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
        return;
      }
      const all = Buffer.concat(chunks).toString('latin1');
      const raw = all.slice(0, all.indexOf('\r\n\r\n') + 4);
      const target = /^CONNECT (\S+) HTTP\/1\.1$/.exec(result.head.startLine)?.[1] ?? '';
      const request = { raw, head: result.head, target };
      this.seen.push(request);
      this.requests.push(request);
      this.#answer(socket, target, result.rest);
    };
    socket.on('data', onData);
  }

  #answer(socket: net.Socket, target: string, rest: Buffer): void {
    const behaviour = this.behaviour;
    switch (behaviour.kind) {
      case 'refuse':
        socket.end(`HTTP/1.1 ${behaviour.status} ${behaviour.statusText}\r\n${behaviour.headers ?? ''}Content-Length: 0\r\n\r\n`);
        return;
      case 'silent':
        return;
      case 'close':
        socket.destroy();
        return;
      case 'raw':
        socket.write(behaviour.bytes);
        return;
      case 'tunnel':
        this.#tunnel(socket, target, rest);
        return;
    }
  }

  #tunnel(socket: net.Socket, target: string, rest: Buffer): void {
    const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(target);
    const host = match?.[1] ?? match?.[2];
    // Loopback only: the tests never reach beyond this machine.
    if (match === null || host === undefined || !['127.0.0.1', '::1', 'localhost'].includes(host)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    // The test servers listen on 127.0.0.1 unless they say ::1; localhost means the former here,
    // whatever the resolver lists first.
    const upstream = net.connect({ host: host === 'localhost' ? '127.0.0.1' : host, port: Number(match[3]) });
    this.#track(upstream);
    upstream.once('error', () => {
      if (!socket.destroyed) socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
    });
    upstream.once('connect', () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (rest.length > 0) upstream.write(rest);
      socket.pipe(upstream);
      upstream.pipe(socket);
      socket.once('close', () => upstream.destroy());
      upstream.once('close', () => socket.destroy());
    });
  }
}
