/**
 * A tiny in-process WebSocket server built on the engine's own handshake, frame and parser
 * modules, for the integration tests, the `npm start` demo and the benchmarks. It is not part of
 * the package's public API. It can echo, or be scripted byte by byte: send any frame, raw bytes,
 * pings, a close with any code, or drop TCP without a Close frame.
 * @see RFC 6455 §4.2, §5
 */
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { CloseCode, EMPTY, Opcode } from './constants';
import { encodeCloseBody, encodeFrame, frameHeadSize, MaskPool, writeFrameHead } from './frame';
import {
  buildServerResponse,
  type ClientHandshake,
  type HttpHead,
  HttpHeadReader,
  validateClientRequest,
} from './handshake';
import { FrameParser, type ParserSink } from './parser';

/** What the server saw arrive on one connection, in order. */
export type ServerEvent =
  | { type: 'message'; isText: boolean; data: Buffer }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'close'; code: number; reason: string }
  | { type: 'protocol-error'; closeCode: number; message: string }
  | { type: 'end' };

/**
 * How the server answers a handshake request: a response to write, or `null` to write nothing
 * (never answer, or act on `socket` directly, e.g. to reset it).
 */
export type HandshakeResponder = (request: ClientHandshake, head: HttpHead, socket: net.Socket) => string | Buffer | null;

/** How a {@link TestServer} is set up. */
export interface TestServerOptions {
  /** `echo` sends every message back with the same opcode; `script` leaves sending to the test. */
  mode?: 'echo' | 'script';
  /** TLS key and certificate: serve `wss:`. */
  tls?: tls.TlsOptions;
  /** Picks the subprotocol from those offered; by default the first one offered. */
  selectProtocol?: (offered: string[]) => string | undefined;
  /** Replaces the normal handshake response (to test handshake failures). */
  respond?: HandshakeResponder;
  /** Answer a client's Close frame with one and close TCP (default true). */
  answerClose?: boolean;
  /** Answer a client's Ping with a Pong (default true); false makes a peer that never answers. */
  answerPings?: boolean;
  /** Host to bind; default 127.0.0.1. */
  host?: string;
  /** Keep our side of TCP open when the client half-closes (a server that never closes TCP). */
  allowHalfOpen?: boolean;
  /**
   * For benchmarks, with `mode: 'echo'`: nothing is recorded (no events, requests or
   * connections, so a long run holds no memory for them), and the echoes of all messages parsed
   * from one read go out in one write.
   */
  fastEcho?: boolean;
}

// Fast echoes: runs of frames below this size are copied into one buffer; larger payloads are
// written as they are (a copy would cost more than another chunk in the write).
const COALESCE_LIMIT = 16 * 1024;

/**
 * A queue that hands values to whoever waits for them, each wait bounded so that a test fails
 * with a message instead of hanging.
 */
export class AsyncQueue<T> {
  #items: T[] = [];
  #waiters: ((value: T) => void)[] = [];

  push(value: T): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(value);
    else this.#items.push(value);
  }

  /** The next value; rejects after `timeoutMs` with `what` in the message. */
  next(timeoutMs = 5000, what = 'value'): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift() as T);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i !== -1) this.#waiters.splice(i, 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const waiter = (value: T): void => {
        clearTimeout(timer);
        resolve(value);
      };
      this.#waiters.push(waiter);
    });
  }

  /** Values received and not yet taken. */
  get pending(): readonly T[] {
    return this.#items;
  }
}

/** The server's side of one connection. */
export class ServerConnection implements ParserSink {
  readonly socket: net.Socket;
  readonly request: ClientHandshake;
  /** Everything received, in order. */
  readonly events = new AsyncQueue<ServerEvent>();
  /** Resolves when TCP has closed. */
  readonly closed: Promise<void>;
  readonly #parser = new FrameParser(this, { role: 'server' });
  readonly #echo: boolean;
  readonly #answerClose: boolean;
  readonly #answerPings: boolean;
  #closeSent = false;
  // With fastEcho: the echoes of the current read, as [opcode, payload] pairs; else null.
  readonly #echoes: (number | Buffer)[] | null;

  /** @internal */
  constructor(socket: net.Socket, request: ClientHandshake, options: TestServerOptions) {
    this.socket = socket;
    this.request = request;
    this.#echo = options.mode !== 'script';
    this.#answerClose = options.answerClose !== false;
    this.#answerPings = options.answerPings !== false;
    this.#echoes = fastEcho(options) ? [] : null;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    if (this.#echoes === null) socket.on('end', () => this.events.push({ type: 'end' }));
  }

  /** @internal Feeds bytes from the socket. */
  push(chunk: Buffer): void {
    this.#parser.push(chunk);
    if (this.#echoes !== null) this.#writeEchoes();
  }

  /** Writes the queued fast echoes: runs of small frames joined into one buffer each. */
  #writeEchoes(): void {
    const echoes = this.#echoes as (number | Buffer)[];
    const n = echoes.length;
    if (n === 0) return;
    const socket = this.socket;
    if (!socket.destroyed) {
      socket.cork();
      let i = 0;
      while (i < n) {
        let size = 0;
        let j = i;
        for (; j < n; j += 2) {
          const length = (echoes[j + 1] as Buffer).length;
          if (length >= COALESCE_LIMIT) break;
          size += frameHeadSize(length, false) + length;
        }
        if (j > i) {
          const out = Buffer.allocUnsafe(size);
          let offset = 0;
          for (let k = i; k < j; k += 2) {
            const payload = echoes[k + 1] as Buffer;
            offset = writeFrameHead(out, offset, echoes[k] as Opcode, payload.length, undefined);
            out.set(payload, offset);
            offset += payload.length;
          }
          socket.write(out);
          i = j;
        } else {
          const payload = echoes[i + 1] as Buffer;
          const head = Buffer.allocUnsafe(frameHeadSize(payload.length, false));
          writeFrameHead(head, 0, echoes[i] as Opcode, payload.length, undefined);
          socket.write(head);
          socket.write(payload);
          i += 2;
        }
      }
      socket.uncork();
    }
    echoes.length = 0;
  }

  /** The next event of one of `types`, skipping others; bounded by `timeoutMs`. */
  async next<K extends ServerEvent['type']>(type: K, timeoutMs = 5000): Promise<Extract<ServerEvent, { type: K }>> {
    for (;;) {
      const event = await this.events.next(timeoutMs, `a '${type}' event on the server`);
      if (event.type === type) return event as Extract<ServerEvent, { type: K }>;
    }
  }

  /** The next message as text; fails if a binary message comes first. */
  async nextText(timeoutMs?: number): Promise<string> {
    const m = await this.next('message', timeoutMs);
    if (!m.isText) throw new Error('expected a text message, got a binary one');
    return m.data.toString('utf8');
  }

  /** The next message as bytes; fails if a text message comes first. */
  async nextBinary(timeoutMs?: number): Promise<Buffer> {
    const m = await this.next('message', timeoutMs);
    if (m.isText) throw new Error('expected a binary message, got a text one');
    return m.data;
  }

  sendText(text: string): void {
    this.sendFrame(Opcode.TEXT, Buffer.from(text, 'utf8'));
  }

  sendBinary(data: Uint8Array): void {
    this.sendFrame(Opcode.BINARY, data);
  }

  /** Sends one frame with any opcode and flags; `mask` breaks the rule that servers never mask. */
  sendFrame(opcode: number, payload: Uint8Array, flags: { fin?: boolean; rsv1?: boolean; mask?: boolean } = {}): void {
    const [head, body] = encodeFrame(opcode as Opcode, payload, {
      fin: flags.fin,
      rsv1: flags.rsv1,
      mask: flags.mask ? new MaskPool() : undefined,
    });
    this.sendRaw(head);
    if (body.length > 0) this.sendRaw(body);
  }

  /** Writes bytes as they are, to inject anything at all. */
  sendRaw(bytes: Uint8Array | string): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  ping(payload: Uint8Array = EMPTY): void {
    this.sendFrame(Opcode.PING, payload);
  }

  /** Sends a Pong, answering a Ping or unsolicited. */
  pong(payload: Uint8Array = EMPTY): void {
    this.sendFrame(Opcode.PONG, payload);
  }

  /** Sends a Close frame (no body when `code` is omitted). */
  close(code?: number, reason = ''): void {
    this.#closeSent = true;
    this.sendFrame(Opcode.CLOSE, encodeCloseBody(code, code === undefined ? undefined : Buffer.from(reason, 'utf8')));
  }

  /** Closes TCP without a Close frame. */
  destroy(): void {
    this.socket.destroy();
  }

  /** Half-closes TCP without a Close frame. */
  end(): void {
    this.socket.end();
  }

  /** @internal */
  onMessage(isText: boolean, data: Buffer): void {
    if (this.#echoes !== null) {
      if (!this.#closeSent) this.#echoes.push(isText ? Opcode.TEXT : Opcode.BINARY, data);
      return;
    }
    this.events.push({ type: 'message', isText, data });
    if (this.#echo && !this.#closeSent) this.sendFrame(isText ? Opcode.TEXT : Opcode.BINARY, data);
  }

  /** @internal */
  onPing(data: Buffer): void {
    if (this.#echoes !== null) this.#writeEchoes(); // keep the Pong behind earlier echoes
    if (this.#echoes === null) this.events.push({ type: 'ping', data: Buffer.from(data) });
    if (!this.#closeSent && this.#answerPings) this.sendFrame(Opcode.PONG, data);
  }

  /** @internal */
  onPong(data: Buffer): void {
    if (this.#echoes === null) this.events.push({ type: 'pong', data: Buffer.from(data) });
  }

  /** @internal RFC 6455 §7.1.1: the server answers a Close frame and then closes TCP first. */
  onClose(code: number, reason: string): void {
    if (this.#echoes !== null) this.#writeEchoes();
    if (this.#echoes === null) this.events.push({ type: 'close', code, reason });
    if (!this.#answerClose) return;
    if (!this.#closeSent) this.close(code === CloseCode.NO_STATUS_RECEIVED ? undefined : code, reason);
    this.socket.end();
  }

  /** @internal */
  onProtocolError(closeCode: number, message: string): void {
    if (this.#echoes !== null) this.#writeEchoes();
    if (this.#echoes === null) this.events.push({ type: 'protocol-error', closeCode, message });
    if (!this.#closeSent) this.close(closeCode);
    this.socket.end();
  }
}

/**
 * A WebSocket server on loopback, port chosen by the OS. Start it with {@link TestServer.start}.
 */
export class TestServer {
  readonly server: net.Server;
  readonly options: TestServerOptions;
  /** Connections whose handshake completed, in order. */
  readonly connections = new AsyncQueue<ServerConnection>();
  /** Every socket accepted, handshake or not; closed by {@link close}. */
  readonly sockets = new Set<net.Socket>();
  /** Handshake requests received, in order (also those answered by `respond`). */
  readonly requests: ClientHandshake[] = [];

  private constructor(options: TestServerOptions) {
    this.options = options;
    const onSocket = (socket: net.Socket): void => this.#accept(socket);
    const allowHalfOpen = options.allowHalfOpen === true;
    this.server = options.tls
      ? tls.createServer({ ...options.tls, allowHalfOpen }, onSocket)
      : net.createServer({ allowHalfOpen }, onSocket);
  }

  /** Starts a server and resolves once it listens. */
  static async start(options: TestServerOptions = {}): Promise<TestServer> {
    const s = new TestServer(options);
    s.server.listen(0, options.host ?? '127.0.0.1');
    await once(s.server, 'listening');
    return s;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** `ws://127.0.0.1:<port>` (or `wss://localhost:<port>` with TLS), followed by `path`. */
  url(path = '/'): string {
    const host = this.options.host ?? '127.0.0.1';
    const name = this.options.tls ? 'localhost' : host.includes(':') ? `[${host}]` : host;
    return `${this.options.tls ? 'wss' : 'ws'}://${name}:${this.port}${path}`;
  }

  /** The next connection whose handshake completed. */
  nextConnection(timeoutMs = 5000): Promise<ServerConnection> {
    return this.connections.next(timeoutMs, 'a WebSocket connection to the test server');
  }

  /** Stops listening and destroys every socket. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.sockets.delete(socket));
    // Tests drop and reset connections on purpose; a socket error must not crash the process.
    socket.on('error', () => {});
    const reader = new HttpHeadReader();
    let connection: ServerConnection | null = null;
    socket.on('data', (chunk: Buffer) => {
      if (connection !== null) {
        connection.push(chunk);
        return;
      }
      const result = reader.push(chunk);
      if (result.kind === 'more') return;
      if (result.kind === 'error') {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
        return;
      }
      const request = validateClientRequest(result.head);
      if (typeof request === 'string') {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
        return;
      }
      const record = !fastEcho(this.options);
      if (record) this.requests.push(request);
      if (this.options.respond) {
        const response = this.options.respond(request, result.head, socket);
        if (response !== null) socket.write(response);
        return;
      }
      const protocol = this.options.selectProtocol
        ? this.options.selectProtocol(request.protocols)
        : request.protocols[0];
      socket.write(buildServerResponse(request.key, protocol));
      connection = new ServerConnection(socket, request, this.options);
      if (record) this.connections.push(connection);
      if (result.rest.length > 0) connection.push(result.rest);
    });
  }
}

/** Whether `options` ask for the benchmark's echo path. */
function fastEcho(options: TestServerOptions): boolean {
  return options.mode !== 'script' && options.fastEcho === true;
}

