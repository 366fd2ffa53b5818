/**
 * A raw HTTP server on loopback for handshake tests: it records each request head as the bytes
 * the client wrote, and lets the test decide when and how to answer each one.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { acceptKeyFor, HttpHeadReader, type HttpHead } from '../../lib/handshake';
import { AsyncQueue } from '../../lib/server';

/** One request received: its raw head, parsed head, and the socket to answer on. */
export interface RawRequest {
  /** The request head exactly as written, up to and including the blank line. */
  raw: string;
  head: HttpHead;
  socket: net.Socket;
  /** Writes a 101 that accepts the request. */
  accept(extraHeaders?: string): void;
}

/** A raw server: every TCP connection is counted, every request head queued for the test. */
export class RawServer {
  readonly server: net.Server;
  readonly requests = new AsyncQueue<RawRequest>();
  /** TCP connections accepted so far. */
  connections = 0;
  readonly #sockets = new Set<net.Socket>();

  private constructor(options: net.ServerOpts) {
    this.server = net.createServer(options, (socket) => this.#accept(socket));
  }

  /** Starts listening on `host` (127.0.0.1 by default), port 0. */
  static async start(host = '127.0.0.1', options: net.ServerOpts = {}): Promise<RawServer> {
    const s = new RawServer(options);
    s.server.listen(0, host);
    await once(s.server, 'listening');
    return s;
  }

  /** Starts listening on the Unix domain socket `socketPath`. */
  static async startOnPath(socketPath: string): Promise<RawServer> {
    const s = new RawServer({});
    s.server.listen(socketPath);
    await once(s.server, 'listening');
    return s;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** `ws://host:port/` for this server, with `host` as given (brackets added for IPv6). */
  url(host = '127.0.0.1', path = '/'): string {
    return `ws://${host.includes(':') ? `[${host}]` : host}:${this.port}${path}`;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #accept(socket: net.Socket): void {
    this.connections++;
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    const reader = new HttpHeadReader();
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      const result = reader.push(chunk);
      if (result.kind !== 'head') return;
      socket.removeListener('data', onData);
      const all = Buffer.concat(chunks).toString('latin1');
      const raw = all.slice(0, all.indexOf('\r\n\r\n') + 4);
      const key = result.head.headers.get('sec-websocket-key') ?? '';
      this.requests.push({
        raw,
        head: result.head,
        socket,
        accept: (extraHeaders = '') =>
          socket.write(
            'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
              `Sec-WebSocket-Accept: ${acceptKeyFor(key)}\r\n${extraHeaders}\r\n`,
          ),
      });
    };
    socket.on('data', onData);
  }
}
