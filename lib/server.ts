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
import * as zlib from 'node:zlib';
import { CloseCode, EMPTY, Opcode } from './constants';
import { PerMessageDeflate } from './deflate';
import { encodeCloseBody, encodeFrame, frameHeadSize, MaskPool, writeFrameHead } from './frame';
import {
  buildServerResponse,
  type ClientHandshake,
  type HttpHead,
  HttpHeadReader,
  validateClientRequest,
} from './handshake';
import { type Failure, FrameParser, type MessageDecompressor, type ParserSink } from './parser';

/** What the server saw arrive on one connection, in order. */
export type ServerEvent =
  | {
      type: 'message';
      isText: boolean;
      data: Buffer;
      /** Whether it came compressed (RSV1), and then its payload as sent, without the 4-byte tail. */
      compressed: boolean;
      deflated: Buffer | null;
    }
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
   * Accept a client's permessage-deflate offer (off by default), answering with these
   * parameters. The server side is written apart from the client's codec: it inflates and
   * compresses each message in one go with zlib's one-shot functions, carrying context takeover
   * over as a dictionary, and checks the offer with its own parser.
   */
  perMessageDeflate?: boolean | ServerDeflateOptions;
  /**
   * Called for every message in mode 'echo' (for the benchmark's commands); returning true
   * means it was handled, and it is then neither echoed nor recorded.
   */
  onMessage?: (connection: ServerConnection, isText: boolean, data: Buffer) => boolean;
  /**
   * For benchmarks, with `mode: 'echo'`: nothing is recorded (no events, requests or
   * connections, so a long run holds no memory for them), and the echoes of all messages parsed
   * from one read go out in one write.
   */
  fastEcho?: boolean;
}

/** How the test server answers a permessage-deflate offer. @see RFC 7692 §7.1 */
export interface ServerDeflateOptions {
  /** Answer with server_no_context_takeover and compress every message afresh. */
  serverNoContextTakeover?: boolean;
  /** Answer with client_no_context_takeover (and inflate every message afresh). */
  clientNoContextTakeover?: boolean;
  /** Answer with server_max_window_bits=N and compress within that window. */
  serverMaxWindowBits?: number;
  /** Answer with client_max_window_bits=N (the offer must have that parameter), and inflate with exactly that window. */
  clientMaxWindowBits?: number;
  /** Echoes, sendText and sendBinary compress messages of at least this many bytes (default 0). */
  threshold?: number;
  /**
   * `apart` (the default, for tests): the one-shot codec below, sharing nothing with the
   * client's. `engine`: lib/deflate.ts in the server's role, fast, for the benchmark and demo.
   */
  codec?: 'apart' | 'engine';
}

// Fast echoes: runs of frames below this size are copied into one buffer; larger payloads are
// written as they are (a copy would cost more than another chunk in the write).
const COALESCE_LIMIT = 16 * 1024;
// Fast echoes: the flag on an echo's opcode that says its payload is compressed (RSV1).
const COMPRESSED = 0x100;

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
  /** The permessage-deflate parameters agreed with this client, or null. */
  readonly deflate: ServerDeflate | null;
  readonly #parser: FrameParser;
  readonly #echo: boolean;
  readonly #onMessage: TestServerOptions['onMessage'];
  readonly #answerClose: boolean;
  readonly #answerPings: boolean;
  #closeSent = false;
  // With fastEcho: the echoes of the current read, as [opcode, payload] pairs; else null.
  readonly #echoes: (number | Buffer)[] | null;

  /** @internal */
  constructor(socket: net.Socket, request: ClientHandshake, options: TestServerOptions, deflate: ServerDeflate | null) {
    this.socket = socket;
    this.request = request;
    this.deflate = deflate;
    this.#parser = new FrameParser(this, { role: 'server', decompressor: deflate });
    this.#echo = options.mode !== 'script';
    this.#onMessage = options.onMessage;
    this.#answerClose = options.answerClose !== false;
    this.#answerPings = options.answerPings !== false;
    this.#echoes = fastEcho(options) ? [] : null;
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        deflate?.close();
        resolve();
      }),
    );
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
            const opcode = echoes[k] as number;
            offset = writeFrameHead(out, offset, (opcode & 0xf) as Opcode, payload.length, undefined, true, opcode >= COMPRESSED);
            out.set(payload, offset);
            offset += payload.length;
          }
          socket.write(out);
          i = j;
        } else {
          const payload = echoes[i + 1] as Buffer;
          const opcode = echoes[i] as number;
          const head = Buffer.allocUnsafe(frameHeadSize(payload.length, false));
          writeFrameHead(head, 0, (opcode & 0xf) as Opcode, payload.length, undefined, true, opcode >= COMPRESSED);
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

  /** Sends a text message, compressed when permessage-deflate is on and it reaches the threshold. */
  sendText(text: string): void {
    this.sendMessage(true, Buffer.from(text, 'utf8'));
  }

  /** Sends a binary message, compressed when permessage-deflate is on and it reaches the threshold. */
  sendBinary(data: Uint8Array): void {
    this.sendMessage(false, data);
  }

  /** Sends one message as one frame, compressed as for {@link sendText}. */
  sendMessage(isText: boolean, data: Uint8Array): void {
    const opcode = isText ? Opcode.TEXT : Opcode.BINARY;
    const deflate = this.deflate;
    if (deflate !== null && data.length >= deflate.threshold) this.sendFrame(opcode, deflate.compress(data), { rsv1: true });
    else this.sendFrame(opcode, data);
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
  onMessage(isText: boolean, data: Buffer, compressed: boolean): void {
    if (this.#onMessage !== undefined && this.#echo && this.#onMessage(this, isText, data)) return;
    if (this.#echoes !== null) {
      if (this.#closeSent) return;
      const opcode = isText ? Opcode.TEXT : Opcode.BINARY;
      const deflate = this.deflate;
      if (deflate !== null && data.length >= deflate.threshold) this.#echoes.push(opcode | COMPRESSED, deflate.compress(data));
      else this.#echoes.push(opcode, data);
      return;
    }
    this.events.push({ type: 'message', isText, data, compressed, deflated: compressed ? (this.deflate as ServerDeflate).lastDeflated : null });
    if (this.#echo && !this.#closeSent) this.sendMessage(isText, data);
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
      const deflate = this.options.perMessageDeflate ? ServerDeflate.negotiate(request.headers.get('sec-websocket-extensions'), this.options.perMessageDeflate) : null;
      socket.write(buildServerResponse(request.key, protocol, deflate === null ? [] : [['Sec-WebSocket-Extensions', deflate.response]]));
      connection = new ServerConnection(socket, request, this.options, deflate);
      if (record) this.connections.push(connection);
      if (result.rest.length > 0) connection.push(result.rest);
    });
  }
}

/** Whether `options` ask for the benchmark's echo path. */
function fastEcho(options: TestServerOptions): boolean {
  return options.mode !== 'script' && options.fastEcho === true;
}


/**
 * The server's side of permessage-deflate for one connection, kept apart from the client's
 * codec (lib/deflate.ts) on purpose, so that a bug there is not mirrored here: the offer is
 * split with regular expressions, and each message is inflated or compressed in one go by
 * zlib's one-shot functions, with context takeover carried over as a preset dictionary (the
 * last window's worth of the messages so far) instead of a long-lived stream.
 * @see RFC 7692 §5, §7
 */
export class ServerDeflate implements MessageDecompressor {
  /** The Sec-WebSocket-Extensions value of the 101. */
  readonly response: string;
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  readonly serverMaxWindowBits: number;
  readonly clientMaxWindowBits: number;
  readonly threshold: number;
  failure: Failure | null = null;
  /** The payload of the last compressed message received, as it came (without the tail). */
  lastDeflated: Buffer = EMPTY;
  #pieces: Buffer[] = [];
  #received: Buffer = EMPTY; // the inflater's window: the last bytes received
  #sent: Buffer = EMPTY; // the deflater's window: the last bytes sent
  // With `codec: 'engine'`: the client's codec with the roles swapped, doing all the work.
  readonly #engine: PerMessageDeflate | null;

  private constructor(response: string, agreed: Required<ServerDeflateOptions>) {
    this.response = response;
    this.serverNoContextTakeover = agreed.serverNoContextTakeover;
    this.clientNoContextTakeover = agreed.clientNoContextTakeover;
    this.serverMaxWindowBits = agreed.serverMaxWindowBits;
    this.clientMaxWindowBits = agreed.clientMaxWindowBits;
    this.threshold = agreed.threshold;
    this.#engine =
      agreed.codec === 'engine'
        ? new PerMessageDeflate(
            {
              serverNoContextTakeover: agreed.clientNoContextTakeover,
              clientNoContextTakeover: agreed.serverNoContextTakeover,
              serverMaxWindowBits: agreed.clientMaxWindowBits,
              clientMaxWindowBits: agreed.serverMaxWindowBits,
            },
            { threshold: 0 },
          )
        : null;
  }

  /** Frees the engine's zlib streams, if any. */
  close(): void {
    this.#engine?.close();
  }

  /**
   * Accepts the first permessage-deflate offer in `header` that the options can answer (RFC
   * 7692 §5.1), or returns null to decline them all.
   */
  static negotiate(header: string | undefined, config: true | ServerDeflateOptions): ServerDeflate | null {
    const options = config === true ? {} : config;
    for (const offer of (header ?? '').split(/\s*,\s*/)) {
      const [name, ...rawParams] = offer.split(/\s*;\s*/);
      if (name.trim() !== 'permessage-deflate') continue;
      const params = new Map<string, string | true>();
      let valid = true;
      for (const raw of rawParams) {
        const m = /^([\w-]+)(?:\s*=\s*(?:"([^"]*)"|([^\s";]+)))?$/.exec(raw.trim());
        if (m === null || params.has(m[1])) {
          valid = false;
          break;
        }
        params.set(m[1], m[2] ?? m[3] ?? true);
      }
      if (!valid) continue;
      const bits = (v: string | true | undefined): number | null | undefined => (v === undefined ? undefined : v === true ? null : /^(8|9|1[0-5])$/.test(v) ? Number(v) : NaN);
      const offeredClient = bits(params.get('client_max_window_bits'));
      const offeredServer = bits(params.get('server_max_window_bits'));
      if (Number.isNaN(offeredClient) || Number.isNaN(offeredServer) || offeredServer === null) continue;
      if ([...params.keys()].some((k) => !['client_max_window_bits', 'server_max_window_bits', 'client_no_context_takeover', 'server_no_context_takeover'].includes(k))) continue;
      // client_max_window_bits=N may be answered only to an offer that has the parameter.
      if (options.clientMaxWindowBits !== undefined && offeredClient === undefined) continue;
      let serverBits = options.serverMaxWindowBits;
      if (offeredServer !== undefined && offeredServer !== null && (serverBits === undefined || serverBits > offeredServer)) serverBits = offeredServer;
      let clientBits = options.clientMaxWindowBits;
      if (clientBits !== undefined && typeof offeredClient === 'number' && clientBits > offeredClient) clientBits = offeredClient;
      const serverNoContextTakeover = options.serverNoContextTakeover === true || params.has('server_no_context_takeover');
      const clientNoContextTakeover = options.clientNoContextTakeover === true;
      let response = 'permessage-deflate';
      if (serverNoContextTakeover) response += '; server_no_context_takeover';
      if (clientNoContextTakeover) response += '; client_no_context_takeover';
      if (serverBits !== undefined) response += `; server_max_window_bits=${serverBits}`;
      if (clientBits !== undefined) response += `; client_max_window_bits=${clientBits}`;
      return new ServerDeflate(response, {
        serverNoContextTakeover,
        clientNoContextTakeover,
        serverMaxWindowBits: serverBits ?? 15,
        clientMaxWindowBits: clientBits ?? (typeof offeredClient === 'number' ? offeredClient : 15),
        threshold: options.threshold ?? 0,
        codec: options.codec ?? 'apart',
      });
    }
    return null;
  }

  /** @internal MessageDecompressor: collects the pieces and inflates the whole message at its end. */
  decompress(piece: Buffer, last: boolean, budget: number, out: Buffer[]): number {
    if (this.#engine !== null) {
      const produced = this.#engine.decompress(piece, last, budget, out);
      if (produced < 0) this.failure = this.#engine.failure;
      return produced;
    }
    this.#pieces.push(Buffer.from(piece));
    if (!last) return 0;
    this.lastDeflated = Buffer.concat(this.#pieces);
    const input = Buffer.concat([this.lastDeflated, DEFLATE_TAIL]);
    this.#pieces = [];
    let inflated: Buffer;
    try {
      inflated = zlib.inflateRawSync(input, {
        windowBits: this.clientMaxWindowBits,
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
        maxOutputLength: Math.max(1, budget),
        dictionary: this.#received.length > 0 ? this.#received : undefined,
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      this.failure = code === 'ERR_BUFFER_TOO_LARGE' ? { closeCode: CloseCode.MESSAGE_TOO_BIG, message: 'message inflates past the limit' } : { closeCode: CloseCode.INVALID_PAYLOAD, message: `invalid compressed data: ${(error as Error).message}` };
      return -1;
    }
    if (inflated.length > budget) {
      this.failure = { closeCode: CloseCode.MESSAGE_TOO_BIG, message: 'message inflates past the limit' };
      return -1;
    }
    if (!this.clientNoContextTakeover) this.#received = lastBytes(this.#received, inflated, 1 << this.clientMaxWindowBits);
    if (inflated.length > 0) out.push(inflated);
    return inflated.length;
  }

  /** Compresses one message (context taken over unless agreed otherwise); the payload without its tail. */
  compress(data: Uint8Array): Buffer {
    if (this.#engine !== null) {
      // The engine's result lives in a shared scratch buffer: keep a copy.
      const payload = this.#engine.compress(data);
      if (payload === null) throw new Error('the engine codec could not compress');
      return Buffer.from(payload);
    }
    const compressed = zlib.deflateRawSync(data, {
      // zlib has no 8-bit raw window; its 9-bit one never reaches back more than 250 bytes.
      windowBits: Math.max(9, this.serverMaxWindowBits),
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
      dictionary: this.#sent.length > 0 ? this.#sent : undefined,
    });
    if (!this.serverNoContextTakeover) this.#sent = lastBytes(this.#sent, data, 1 << this.serverMaxWindowBits);
    if (compressed.length <= 4) return Buffer.from([0]);
    return compressed.subarray(0, compressed.length - 4);
  }
}

const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** The last `size` bytes of `before` followed by `data`, in a buffer of their own. */
function lastBytes(before: Buffer, data: Uint8Array, size: number): Buffer {
  if (data.length >= size) return Buffer.from(data.subarray(data.length - size));
  const keep = Math.min(before.length, size - data.length);
  return Buffer.concat([before.subarray(before.length - keep), data]);
}
