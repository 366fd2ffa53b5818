/**
 * A client WebSocket connection over `net` or `tls`: the opening handshake, frame I/O, the
 * closing handshake, and failing. The only module that touches sockets and timers. It reports to
 * a {@link ConnectionHandler} synchronously; turning reports into tasks is the API's job.
 * @see RFC 6455 §4.1, §5, §7
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { CloseCode, EMPTY, Opcode } from './constants';
import { channels } from './diagnostics';
import { encodeCloseBody, encodeFrame, MaskPool } from './frame';
import { buildClientRequest, generateKey, HttpHeadReader, validateServerResponse } from './handshake';
import { FrameParser, type ParserSink } from './parser';
import { settings } from './settings';

/** What a connection tells its owner. */
export interface ConnectionHandler {
  /** _The WebSocket Connection is Established_ (RFC 6455 §4.1). */
  onEstablished(protocol: string, extensions: string): void;
  /** _A WebSocket Message Has Been Received_ (RFC 6455 §6.2). */
  onMessage(isText: boolean, data: Buffer): void;
  /** The peer's Close frame arrived before we sent ours: _the closing handshake is started_. */
  onClosingHandshakeStarted(): void;
  /** `bytes` of application data were handed to the operating system. */
  onFlushed(bytes: number): void;
  /** _The WebSocket Connection is Closed_ (RFC 6455 §7.1.4); `failed` if it was failed. */
  onClosed(failed: boolean, wasClean: boolean, code: number, reason: string): void;
}

const Phase = { CONNECTING: 0, OPEN: 1, CLOSED: 2 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** A frame waiting behind an unread Blob. `data` is null until the Blob has been read. */
interface Pending {
  opcode: Opcode;
  data: Uint8Array | null;
  bytes: number;
}

// Masking keys are drawn for every frame, so one pool serves all connections of this realm.
const maskPool = new MaskPool();

// Frames written in one tick are joined into one buffer below this size, and written as they are
// above it: one large write costs less than many small ones, and a copy of a large payload costs
// more than a writev entry.
const COALESCE_LIMIT = 16 * 1024;

/**
 * One client connection. Construct it to start connecting; it reports through `handler`.
 * @see https://websockets.spec.whatwg.org/#concept-websocket-establish
 */
export class Connection implements ParserSink {
  readonly #handler: ConnectionHandler;
  readonly #owner: object;
  readonly #url: URL;
  readonly #protocols: readonly string[];
  readonly #key = generateKey();
  readonly #socket: net.Socket;
  #phase: Phase = Phase.CONNECTING;
  #headReader: HttpHeadReader | null;
  #parser: FrameParser | null = null;
  #timer: NodeJS.Timeout | null = null;

  #closeSent = false;
  #closeReceived = false;
  #receivedCode: number = CloseCode.ABNORMAL_CLOSURE;
  #receivedReason = '';
  #failed = false;

  // Frames of the current tick, written together by #flush().
  #batch: Uint8Array[] = [];
  #batchBytes = 0; // application bytes in #batch
  #flushScheduled = false;
  #flushedSizes: number[] = []; // application bytes of each batch handed to the socket
  // Frames waiting behind a Blob being read; null when nothing waits.
  #pending: Pending[] | null = null;
  #endWhenDrained = false; // half-close TCP once #pending is written (the Close frame is in it)

  /**
   * @param url a `ws:` or `wss:` URL without fragment, already validated by the caller.
   * @param owner the WebSocket, passed along in diagnostics messages.
   */
  constructor(url: URL, protocols: readonly string[], handler: ConnectionHandler, owner: object) {
    this.#url = url;
    this.#protocols = protocols;
    this.#handler = handler;
    this.#owner = owner;
    this.#headReader = new HttpHeadReader(settings.maxHandshakeHeadSize);

    const secure = url.protocol === 'wss:';
    // URL keeps the brackets of an IPv6 literal in `hostname`; sockets want the bare address.
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
    const socket = secure
      ? tls.connect({
          ...settings.tls,
          host,
          port,
          // SNI carries host names only (RFC 6066 §3).
          servername: net.isIP(host) === 0 ? host : undefined,
          ALPNProtocols: ['http/1.1'],
        })
      : net.connect({ host, port });
    this.#socket = socket;
    // Frames of one tick are already written together, so Nagle's delay would only add latency.
    socket.setNoDelay(true);
    if (settings.keepAliveMs > 0) socket.setKeepAlive(true, settings.keepAliveMs);
    socket.on(secure ? 'secureConnect' : 'connect', () => this.#onConnect());
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error: Error) => this.#onSocketError(error));
    socket.on('close', (hadError: boolean) => this.#onSocketClose(hadError));
    this.#startTimer(settings.handshakeTimeoutMs, () =>
      this.#fail(undefined, `no valid handshake response within ${settings.handshakeTimeoutMs} ms`),
    );
  }

  // --- opening handshake -------------------------------------------------------------------

  #onConnect(): void {
    const url = this.#url;
    const request = buildClientRequest({
      host: url.host,
      // The request target is the URL's path and query as Fetch serializes them: an empty but
      // present query keeps its "?" (url.search is '' for it, so look at href; no fragment here).
      resource: (url.pathname || '/') + (url.search === '' && url.href.endsWith('?') ? '?' : url.search),
      key: this.#key,
      protocols: this.#protocols,
    });
    this.#socket.write(request, 'latin1');
  }

  #onData(chunk: Buffer): void {
    if (this.#parser !== null) {
      this.#parser.push(chunk);
      return;
    }
    if (this.#headReader === null) return;
    const result = this.#headReader.push(chunk);
    if (result.kind === 'more') return;
    this.#headReader = null;
    if (result.kind === 'error') {
      this.#fail(undefined, `invalid handshake response: ${result.message}`);
      return;
    }
    const outcome = validateServerResponse(result.head, this.#key, this.#protocols);
    if (typeof outcome === 'string') {
      this.#fail(undefined, `invalid handshake response: ${outcome}`);
      return;
    }
    this.#clearTimer();
    this.#phase = Phase.OPEN;
    this.#parser = new FrameParser(this, { role: 'client', maxMessageSize: settings.maxMessageSize });
    if (channels.open.hasSubscribers) {
      channels.open.publish({ websocket: this.#owner, url: this.#url.href, ...outcome });
    }
    this.#handler.onEstablished(outcome.protocol, outcome.extensions);
    // Bytes after the response head are already frames.
    if (result.rest.length > 0) this.#parser.push(result.rest);
  }

  // --- ParserSink ----------------------------------------------------------------------------

  /** @internal */
  onMessage(isText: boolean, data: Buffer): void {
    this.#handler.onMessage(isText, data);
  }

  /** @internal RFC 6455 §5.5.2: answer a Ping with a Pong carrying its payload. */
  onPing(payload: Buffer): void {
    if (!this.#closeSent) this.#enqueue(Opcode.PONG, payload, 0);
  }

  /** @internal Unsolicited or answering Pongs need nothing (RFC 6455 §5.5.3). */
  onPong(): void {}

  /** @internal RFC 6455 §5.5.1: a Close frame arrived. */
  onClose(code: number, reason: string): void {
    this.#closeReceived = true;
    this.#receivedCode = code;
    this.#receivedReason = reason;
    if (!this.#closeSent) {
      // The peer started the closing handshake; answer with the same code (none if it sent none).
      this.#handler.onClosingHandshakeStarted();
      this.#sendClose(code === CloseCode.NO_STATUS_RECEIVED ? undefined : code, undefined);
    }
    // RFC 6455 §7.1.1: both Close frames are exchanged; the server should now close TCP. We
    // half-close our side once our frames are out, and the close timer bounds the wait.
    if (this.#pending !== null) {
      this.#endWhenDrained = true;
    } else {
      this.#flush();
      this.#socket.end();
    }
  }

  /** @internal The peer broke a rule: _Fail the WebSocket Connection_ with the code named. */
  onProtocolError(closeCode: number, message: string): void {
    this.#fail(closeCode, message);
  }

  // --- sending -------------------------------------------------------------------------------

  /** Whether data frames can still be sent: open, and no Close frame sent or received. */
  get canSend(): boolean {
    return this.#phase === Phase.OPEN && !this.#closeSent && !this.#closeReceived;
  }

  /** Sends a whole message as one frame. `data` is not modified (masking copies it). */
  send(isText: boolean, data: Uint8Array): void {
    // Behind an unread Blob the frame is built later, and the caller may change its buffer once
    // send() returns; the message is the bytes as they were at the call (text is a fresh copy).
    const bytes = this.#pending !== null && !isText ? data.slice() : data;
    this.#enqueue(isText ? Opcode.TEXT : Opcode.BINARY, bytes, data.length);
  }

  /** Sends a Blob's bytes as a binary message, in order with the messages around it. */
  sendBlob(blob: Blob): void {
    const entry: Pending = { opcode: Opcode.BINARY, data: null, bytes: blob.size };
    (this.#pending ??= []).push(entry);
    blob.arrayBuffer().then(
      (buffer) => {
        entry.data = new Uint8Array(buffer);
        this.#drainPending();
      },
      (error: unknown) => {
        entry.data = EMPTY;
        this.#fail(CloseCode.INTERNAL_ERROR, 'a Blob passed to send() could not be read', error);
      },
    );
  }

  /**
   * _Start the WebSocket Closing Handshake_: queue a Close frame behind the messages already
   * sent. With no code the frame has no body.
   * @see RFC 6455 §7.1.2, https://websockets.spec.whatwg.org/#dom-websocket-close
   */
  close(code?: number, reason?: Uint8Array): void {
    if (this.#phase !== Phase.OPEN || this.#closeSent) return;
    this.#sendClose(code, reason);
  }

  /**
   * _Fail the WebSocket Connection_ on behalf of the API (close() while connecting).
   * @see RFC 6455 §7.1.7
   */
  abort(reason: string): void {
    this.#fail(undefined, reason);
  }

  #sendClose(code: number | undefined, reason: Uint8Array | undefined): void {
    this.#closeSent = true;
    this.#enqueue(Opcode.CLOSE, encodeCloseBody(code, reason), 0);
    this.#startTimer(settings.closeTimeoutMs, () => this.#socket.destroy());
  }

  #enqueue(opcode: Opcode, data: Uint8Array, bytes: number): void {
    if (this.#pending !== null) {
      this.#pending.push({ opcode, data, bytes });
      return;
    }
    this.#write(opcode, data, bytes);
  }

  /** Writes the frames whose data is ready, in order, stopping at the first unread Blob. */
  #drainPending(): void {
    const pending = this.#pending;
    if (pending === null) return;
    while (pending.length > 0 && pending[0].data !== null) {
      const entry = pending.shift() as Pending;
      this.#write(entry.opcode, entry.data as Uint8Array, entry.bytes);
    }
    if (pending.length > 0) return;
    this.#pending = null;
    if (this.#endWhenDrained) {
      this.#flush();
      this.#socket.end();
    }
  }

  #write(opcode: Opcode, data: Uint8Array, bytes: number): void {
    if (this.#phase !== Phase.OPEN) return;
    const [head, payload] = encodeFrame(opcode, data, { mask: maskPool });
    this.#batch.push(head);
    if (payload.length > 0) this.#batch.push(payload);
    this.#batchBytes += bytes;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(flushConnection, this);
    }
  }

  /** Writes this tick's frames: small ones joined into one buffer, large ones as they are. */
  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#batch;
    if (batch.length === 0) return;
    const bytes = this.#batchBytes;
    this.#batch = [];
    this.#batchBytes = 0;
    const socket = this.#socket;
    if (socket.destroyed) return;
    // Runs of small chunks become one buffer each; large chunks stay as they are.
    const out: Uint8Array[] = [];
    let start = 0;
    let size = 0;
    for (let i = 0; i <= batch.length; i++) {
      const chunk = i < batch.length ? batch[i] : null;
      if (chunk !== null && chunk.length < COALESCE_LIMIT) {
        size += chunk.length;
        continue;
      }
      if (i - start === 1) out.push(batch[start]);
      else if (i > start) out.push(join(batch, start, i, size));
      if (chunk !== null) out.push(chunk);
      start = i + 1;
      size = 0;
    }
    const last = out.length - 1;
    if (last > 0) socket.cork();
    for (let i = 0; i < last; i++) socket.write(out[i]);
    if (bytes > 0) {
      // One callback per batch reports the application bytes it carried.
      this.#flushedSizes.push(bytes);
      socket.write(out[last], this.#onBatchWritten);
    } else {
      socket.write(out[last]);
    }
    if (last > 0) socket.uncork();
  }

  // Bound once, so no closure is made per batch.
  readonly #onBatchWritten = (error?: Error | null): void => {
    const bytes = this.#flushedSizes.shift() as number;
    if (!error) this.#handler.onFlushed(bytes);
  };

  /** @internal Runs the scheduled flush (called through process.nextTick). */
  flushNow(): void {
    if (this.#flushScheduled) this.#flush();
  }

  // --- closing and failing -------------------------------------------------------------------

  /**
   * _Fail the WebSocket Connection_: send a Close frame with `code` if the connection is open
   * and none was sent, then close TCP. The close event will report 1006.
   * @see RFC 6455 §7.1.7
   */
  #fail(code: number | undefined, reason: string, error?: unknown): void {
    if (this.#failed || this.#phase === Phase.CLOSED) return;
    this.#failed = true;
    if (channels.fail.hasSubscribers) {
      channels.fail.publish({ websocket: this.#owner, url: this.#url.href, reason, error });
    }
    const socket = this.#socket;
    if (this.#phase === Phase.OPEN && !this.#closeSent && code !== undefined) {
      this.#closeSent = true;
      this.#pending = null;
      this.#write(Opcode.CLOSE, encodeCloseBody(code), 0);
      this.#flush();
      // Close TCP once the Close frame is out; the timer bounds a peer that never reads.
      socket.end(() => socket.destroy());
      this.#startTimer(settings.closeTimeoutMs, () => socket.destroy());
    } else {
      socket.destroy();
    }
  }

  #onSocketError(error: Error): void {
    // A socket error during the handshake fails the connection; after it, an abrupt end is
    // reported by the close event alone (1006, wasClean false), as browsers do.
    if (this.#phase === Phase.CONNECTING) {
      this.#fail(undefined, `connection error: ${error.message}`, error);
    } else if (channels.fail.hasSubscribers && !this.#failed) {
      channels.fail.publish({ websocket: this.#owner, url: this.#url.href, reason: `socket error: ${error.message}`, error });
    }
  }

  /**
   * _The WebSocket Connection is Closed_: TCP is gone; `hadError` if it went with a transport
   * error (a reset), which our Close frame may not have survived. @see RFC 6455 §7.1.4
   */
  #onSocketClose(hadError: boolean): void {
    if (this.#phase === Phase.CLOSED) return;
    if (this.#phase === Phase.CONNECTING && !this.#failed) {
      this.#failed = true;
      if (channels.fail.hasSubscribers) {
        channels.fail.publish({ websocket: this.#owner, url: this.#url.href, reason: 'connection closed before the handshake completed' });
      }
    }
    this.#phase = Phase.CLOSED;
    this.#clearTimer();
    this.#batch = [];
    this.#pending = null;
    // RFC 6455 §7.1.5: the close code is the one received in a Close frame, or 1006 without one.
    // Clean only if both Close frames were exchanged and TCP then closed without a reset (as
    // Chromium decides too): after a reset, the peer may never have seen our Close frame.
    const wasClean = this.#closeSent && this.#closeReceived && !this.#failed && !hadError;
    const code = this.#closeReceived ? this.#receivedCode : CloseCode.ABNORMAL_CLOSURE;
    const reason = this.#closeReceived ? this.#receivedReason : '';
    if (channels.close.hasSubscribers) {
      channels.close.publish({ websocket: this.#owner, url: this.#url.href, wasClean, code, reason });
    }
    this.#handler.onClosed(this.#failed, wasClean, code, reason);
  }

  #startTimer(ms: number, onTimeout: () => void): void {
    this.#clearTimer();
    // Unref'd: the socket alone decides whether the process stays alive.
    this.#timer = setTimeout(onTimeout, ms).unref();
  }

  #clearTimer(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
  }
}

function flushConnection(connection: Connection): void {
  connection.flushNow();
}

function join(chunks: Uint8Array[], start: number, end: number, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for (let i = start; i < end; i++) {
    out.set(chunks[i], offset);
    offset += chunks[i].length;
  }
  return out;
}
