/**
 * A client WebSocket connection over `net` or `tls`: the opening handshake, frame I/O, the
 * closing handshake, and failing. The only module that touches sockets and timers. It reports to
 * a {@link ConnectionHandler} synchronously; turning reports into tasks is the API's job.
 * @see RFC 6455 §4.1, §5, §7
 */
import type * as net from 'node:net';
import { CloseCode, EMPTY, Opcode } from './constants';
import { deflateAvailable, PerMessageDeflate } from './deflate';
import { channels } from './diagnostics';
import { DEFLATE_OFFER } from './extensions';
import { encodeCloseBody, frameHeadSize, maskCopy, maskInPlace, MaskPool, writeFrameHead, writeMaskedFrame } from './frame';
import { basicCredentials, buildClientRequest, generateKey, hasBasicChallenge, HttpHeadReader, validateServerResponse } from './handshake';
import type { ConnectOptions, HeartbeatConfig } from './options';
import { FrameParser, type ParserSink } from './parser';
import { PIECE_SIZE, PiecePool } from './piece-pool';
import { settings } from './settings';
import { Dial, type DialHandler, kEarlyReads, kOnRead, type ReadingSocket } from './transport';
import { utf8Decode } from './validation';

/** For a socket given up: what it still reads is dropped. */
function ignoreRead(): void {}

/** `data` copied into an ArrayBuffer of its own (Buffer.from may share a pool's). */
function ownCopy(data: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(data.length);
  copy.set(data);
  return copy;
}

/** What a connection tells its owner. */
export interface ConnectionHandler {
  /** _The WebSocket Connection is Established_ (RFC 6455 §4.1). */
  onEstablished(protocol: string, extensions: string): void;
  /**
   * _A WebSocket Message Has Been Received_ (RFC 6455 §6.2): text already decoded (a string), or
   * binary data; `byteLength`: its size in bytes (inflated, if it came compressed).
   */
  onMessage(data: string | Buffer, byteLength: number): void;
  /** The peer's Close frame arrived before we sent ours: _the closing handshake is started_. */
  onClosingHandshakeStarted(): void;
  /** `bytes` of application data were handed to the operating system. */
  onFlushed(bytes: number): void;
  /** _The WebSocket Connection is Closed_ (RFC 6455 §7.1.4); `failed` if it was failed. */
  onClosed(failed: boolean, wasClean: boolean, code: number, reason: string): void;
}

/**
 * Told the round trip of a Ping in ms when the Pong with its payload arrives, or `null` when the
 * connection closes first.
 */
export type PongCallback = (roundTripMs: number | null) => void;

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

// Frames are built straight into shared slabs: each connection appends its frames of one tick
// to a run of slab bytes, and the run goes to the socket as one chunk. Masking needs a copy of
// the payload anyway, so writing it into the slab costs nothing extra, and one write of a run
// replaces the per-frame head, payload copy and later join of the frames. Slab bytes are never
// written twice: a run handed to the socket stays as it was until the socket is done with it.
const SLAB_SIZE = 64 * 1024;
// Payloads up to this size go into the slab; larger ones are masked into pooled pieces, written
// after their head (which still goes into the slab).
const INLINE_MAX = 16 * 1024;
let slab = Buffer.allocUnsafeSlow(0);
let slabOffset = 0;
// The pieces of large payloads, shared by the connections of this realm; up to 4 MiB kept free.
const piecePool = new PiecePool(64);
// A message of more pieces than this is written in groups of this many as it is masked, so that
// the kernel copies each group while it is still in the cache (and memory is not held twice).
const GROUP_PIECES = 4;
// Text is encoded here first when its frame cannot be built in the slab: large text, so that its
// length is known before its head is written and it is then masked out of it piece by piece, and
// text to be compressed (compression copies it into zlib at once). Either way, no buffer of its
// own per message.
const TEXT_SCRATCH_SIZE = 256 * 1024;
let textScratch: Buffer | null = null;

// The socket's listeners are shared functions that find their connection here, so that a
// connection does not bind four closures of its own.
const kConnection = Symbol('connection');
const NO_PROTOCOLS: readonly string[] = [];
interface OwnedSocket extends ReadingSocket {
  [kConnection]: Connection;
}

/**
 * One client connection. Construct it to start connecting; it reports through `handler`.
 * @see https://websockets.spec.whatwg.org/#concept-websocket-establish
 */
export class Connection implements ParserSink, DialHandler {
  readonly #handler: ConnectionHandler;
  readonly #owner: object;
  // Until the handshake ends; then only its serialization, for diagnostics, is kept.
  #url: URL | null;
  readonly #href: string;
  readonly #options: ConnectOptions;
  // Needed until the handshake response is checked, then dropped so idle connections keep less.
  #protocols: readonly string[];
  #key = generateKey();
  // The request's Origin, fixed when the connection is made (the client's origin then).
  readonly #origin: string | null;
  // Until the handshake ends: the dial that holds our place in the per-address queue.
  #dial: Dial | null;
  // The caller's handshake headers, less a Proxy-Authorization when a proxy is used: that one
  // goes on the CONNECT (see transport.ts), and proxy credentials never reach the target.
  readonly #requestHeaders: readonly (readonly [string, string])[];
  #socket: OwnedSocket | null = null;
  #authRetried = false; // the one retry after a 401 Basic challenge has been made
  #phase: Phase = Phase.CONNECTING;
  #headReader: HttpHeadReader | null = null; // made on the first response bytes
  #parser: FrameParser | null = null;
  #timer: NodeJS.Timeout | null = null;
  // pause() was called and resume() not yet: the socket, once there is one, is not read.
  #paused = false;
  // permessage-deflate: whether our request offered it, and the codec once the server agreed.
  #offeredDeflate = false;
  #deflate: PerMessageDeflate | null = null;

  #closeSent = false;
  #closeReceived = false;
  #receivedCode: number = CloseCode.ABNORMAL_CLOSURE;
  #receivedReason = '';
  #failed = false;

  // Frames of the current tick, written together by #flush(): finished chunks in #batch (null
  // while there are none), then the open run of slab bytes #runSlab[#runStart, #runEnd).
  #batch: Uint8Array[] | null = null;
  #runSlab: Buffer | null = null;
  #runStart = 0;
  #runEnd = 0;
  #batchBytes = 0; // application bytes in this tick's frames
  #batchPieces: Buffer[] | null = null; // pooled pieces in this tick's frames, freed once written
  #flushScheduled = false;
  // Application bytes of each batch handed to the socket, and the write callback reporting them;
  // both made on the first send, so that connections that never send stay small.
  #flushedSizes: number[] | null = null;
  #onBatchWritten: ((error?: Error | null) => void) | null = null;
  // Frames waiting behind a Blob being read; null when nothing waits.
  #pending: Pending[] | null = null;

  // Pings and the heartbeat. #received is set by every read after the handshake and cleared by
  // the heartbeat timer, so that a busy connection costs one store per read and no timer reset.
  #received = false;
  #heartbeatTimer: NodeJS.Timeout | null = null;
  #heartbeatPinged = false; // the running heartbeat timer is the timeout after a Ping
  #heartbeatUnanswered = false; // a heartbeat Ping is in #pongWaiters
  // Pings awaiting their Pong, by payload (latin1: one character per byte), as flat
  // [sentAt, callback] pairs in send order; a null callback is a heartbeat Ping. Null when empty.
  #pongWaiters: Map<string, (number | PongCallback | null)[]> | null = null;

  /**
   * @param url a `ws:` or `wss:` URL without fragment, already validated by the caller.
   * @param options validated per-socket options (see options.ts).
   * @param owner the WebSocket, passed along in diagnostics messages.
   */
  constructor(url: URL, options: ConnectOptions, handler: ConnectionHandler, owner: object) {
    this.#url = url;
    this.#href = url.href;
    this.#options = options;
    this.#protocols = options.protocols;
    this.#handler = handler;
    this.#owner = owner;

    this.#origin = clientOrigin();
    // The handshake timeout covers everything until the 101 is validated: DNS, the queue, TCP,
    // TLS and the response.
    this.#startTimer(options.handshakeTimeout, Connection.#handshakeTimedOut);
    const dial = new Dial(url, options, this);
    this.#dial = dial;
    this.#requestHeaders = dial.proxy === null ? options.headers : options.headers.filter(([name]) => name.toLowerCase() !== 'proxy-authorization');
  }

  /** @internal DialHandler: a connected socket for the handshake, and bytes already read from it. */
  onDialed(socket: net.Socket, head: Buffer): void {
    const owned = socket as OwnedSocket;
    owned[kConnection] = this;
    this.#socket = owned;
    // Frames of one tick are already written together, so Nagle's delay would only add latency.
    socket.setNoDelay(true);
    if (settings.keepAliveMs > 0) socket.setKeepAlive(true, settings.keepAliveMs);
    // Sockets read into the shared buffer (transport.ts) call #socketOnRead; the others emit 'data'.
    owned[kOnRead] = Connection.#socketOnRead;
    socket.on('data', Connection.#socketOnData);
    socket.on('error', Connection.#socketOnError);
    socket.on('close', Connection.#socketOnClose);
    // A 'data' listener starts the flow; a pause() made before the socket existed stops it again.
    if (this.#paused) socket.pause();
    this.#sendRequest();
    if (head.length > 0) this.#onData(head, false);
    const early = owned[kEarlyReads];
    if (early !== undefined) {
      owned[kEarlyReads] = undefined;
      for (const chunk of early) this.#onData(chunk, false);
    }
  }

  /** @internal DialHandler: no socket could be made; the connection fails without one. */
  onDialFailed(reason: string, error?: unknown): void {
    this.#dial = null;
    this.#fail(undefined, reason, error);
  }

  static #socketOnData(this: OwnedSocket, chunk: Buffer): void {
    this[kConnection].#onData(chunk, false);
  }

  // A read into the shared buffer: nothing of `chunk` may be kept once this returns.
  static #socketOnRead(this: net.Socket, chunk: Buffer): void {
    (this as OwnedSocket)[kConnection].#onData(chunk, true);
  }

  static #socketOnError(this: OwnedSocket, error: Error): void {
    this[kConnection].#onSocketError(error);
  }

  static #socketOnClose(this: OwnedSocket, hadError: boolean): void {
    this[kConnection].#onSocketClose(hadError);
  }

  static #handshakeTimedOut(connection: Connection): void {
    // Say where it was stuck when the socket was not even ready (the queue, a proxy, TLS).
    const waitingFor = connection.#socket === null ? connection.#dial?.waitingFor : null;
    const where = waitingFor ? ` (still ${waitingFor})` : '';
    connection.#fail(undefined, `no valid handshake response within ${connection.#options.handshakeTimeout} ms${where}`);
  }

  // RFC 6455 §7.1.1 leaves closing TCP to the server once both Close frames are exchanged; like
  // Chromium, we give it 2 s (settings.closeLingerMs) and then drop the connection ourselves. The
  // closing handshake did complete, so the close stays clean.
  static #lingerEnded(connection: Connection): void {
    connection.#socket?.destroy();
  }

  // After failing: the peer has had its time to read our Close frame and to close TCP.
  static #drainEnded(socket: net.Socket): void {
    socket.destroy();
  }

  // Our Close frame got no answer in time (Chromium waits 60 s): drop the connection, 1006.
  static #closeTimedOut(connection: Connection): void {
    if (channels.fail.hasSubscribers) {
      channels.fail.publish({
        websocket: connection.#owner,
        url: connection.#href,
        reason: `the closing handshake timed out: no Close frame from the server within ${settings.closeTimeoutMs} ms`,
      });
    }
    connection.#socket?.destroy();
  }

  // --- opening handshake -------------------------------------------------------------------

  #sendRequest(): void {
    const url = this.#url as URL;
    // Offered unless the options turn it off (or this Node's zlib cannot be driven as deflate.ts
    // needs, which no supported version lacks).
    this.#offeredDeflate = this.#options.perMessageDeflate !== false && deflateAvailable();
    const request = buildClientRequest({
      host: url.host,
      // The request target is the URL's path and query as Fetch serializes them: an empty but
      // present query keeps its "?" (url.search is '' for it, so look at href; no fragment here).
      resource: (url.pathname || '/') + (url.search === '' && url.href.endsWith('?') ? '?' : url.search),
      key: this.#key,
      protocols: this.#protocols,
      origin: this.#origin,
      // URL credentials go only on the retry that answers a Basic challenge (Fetch, Chromium).
      authorization: this.#authRetried ? basicCredentials(url) : undefined,
      extensions: this.#offeredDeflate ? DEFLATE_OFFER : undefined,
      extraHeaders: this.#requestHeaders,
    });
    (this.#socket as OwnedSocket).write(request, 'latin1');
  }

  /**
   * A 401 with a Basic challenge, to a URL with credentials, gets one retry on a new connection
   * carrying them, within the same handshake timeout. @see https://fetch.spec.whatwg.org/#http-network-or-cache-fetch (step 14)
   */
  #retryWithCredentials(head: { startLine: string; headers: Map<string, string> }): boolean {
    const url = this.#url as URL;
    if (this.#authRetried || (url.username === '' && url.password === '')) return false;
    if (!/^HTTP\/1\.[01] 401(?: |$)/.test(head.startLine) || !hasBasicChallenge(head.headers.get('www-authenticate'))) return false;
    if (this.#options.headers.some(([name]) => name.toLowerCase() === 'authorization')) return false;
    this.#authRetried = true;
    const old = this.#socket as OwnedSocket;
    this.#socket = null;
    old.removeListener('data', Connection.#socketOnData);
    old[kOnRead] = ignoreRead;
    old.removeListener('error', Connection.#socketOnError);
    old.removeListener('close', Connection.#socketOnClose);
    old.on('error', ignoreError);
    old.destroy();
    this.#key = generateKey();
    (this.#dial as Dial).redial();
    return true;
  }

  #onData(chunk: Buffer, borrowed: boolean): void {
    // A failed connection reads only to drain the socket (see #fail): nothing more is parsed.
    if (this.#failed) return;
    if (this.#parser !== null || this.#phase === Phase.OPEN) {
      this.#received = true; // a sign of life for the heartbeat
      (this.#parser ??= this.#makeParser()).push(chunk, borrowed);
      return;
    }
    if (this.#phase !== Phase.CONNECTING) return;
    const reader = (this.#headReader ??= new HttpHeadReader(settings.maxHandshakeHeadSize));
    // The reader keeps what it is given (a head may come in several reads): a copy of a
    // borrowed read. Responses are small, and after this the bytes are the parser's, as owned.
    const result = reader.push(borrowed ? Buffer.from(chunk) : chunk);
    if (result.kind === 'more') return;
    this.#headReader = null;
    if (result.kind === 'error') {
      this.#fail(undefined, `invalid handshake response: ${result.message}`);
      return;
    }
    if (channels.handshake.hasSubscribers) {
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(result.head.startLine);
      channels.handshake.publish({
        websocket: this.#owner,
        url: this.#href,
        status: status === null ? 0 : Number(status[1]),
        headers: Object.fromEntries(result.head.headers),
      });
    }
    if (this.#retryWithCredentials(result.head)) return;
    const outcome = validateServerResponse(result.head, this.#key, this.#protocols, this.#offeredDeflate);
    this.#key = '';
    this.#protocols = NO_PROTOCOLS;
    this.#url = null;
    if (typeof outcome === 'string') {
      this.#fail(undefined, `invalid handshake response: ${outcome}`);
      return;
    }
    this.#clearTimer();
    this.#releaseDial();
    this.#phase = Phase.OPEN;
    const deflateConfig = this.#options.perMessageDeflate;
    if (outcome.deflate !== null && deflateConfig !== false) this.#deflate = new PerMessageDeflate(outcome.deflate, deflateConfig);
    if (this.#options.heartbeat !== null) this.#armHeartbeat(this.#options.heartbeat.interval);
    if (channels.open.hasSubscribers) {
      channels.open.publish({ websocket: this.#owner, url: this.#href, protocol: outcome.protocol, extensions: outcome.extensions });
    }
    this.#handler.onEstablished(outcome.protocol, outcome.extensions);
    // Bytes after the response head are already frames.
    if (result.rest.length > 0) (this.#parser ??= this.#makeParser()).push(result.rest);
  }

  // Made on the first bytes after the handshake: a connection that has received nothing yet
  // (an idle subscription) holds no parser (~250 bytes with its arrays).
  #makeParser(): FrameParser {
    return new FrameParser(this, { role: 'client', maxMessageSize: this.#options.maxPayload, decompressor: this.#deflate, transientText: true });
  }

  // --- ParserSink ----------------------------------------------------------------------------

  /** @internal */
  onMessage(isText: boolean, data: Buffer, _compressed: boolean, borrowed = false): void {
    // Text is decoded now: its bytes may be the parser's reused buffer (transientText), or the
    // socket's (borrowed). Borrowed binary is copied into memory of its own, which the API can
    // hand to the page as its ArrayBuffer without another copy.
    this.#handler.onMessage(isText ? utf8Decode(data) : borrowed ? ownCopy(data) : data, data.length);
  }

  /** @internal RFC 6455 §5.5.2: answer a Ping with a Pong carrying its payload. */
  onPing(payload: Buffer): void {
    if (channels.ping.hasSubscribers) {
      channels.ping.publish({ websocket: this.#owner, url: this.#href, data: Buffer.from(payload) });
    }
    if (!this.#closeSent) this.#enqueue(Opcode.PONG, payload, 0);
  }

  /**
   * @internal RFC 6455 §5.5.3: a Pong answers the oldest of our Pings with its payload; an
   * unsolicited one (no such Ping) needs nothing.
   */
  onPong(payload: Buffer): void {
    if (channels.pong.hasSubscribers) {
      channels.pong.publish({ websocket: this.#owner, url: this.#href, data: Buffer.from(payload) });
    }
    const waiters = this.#pongWaiters;
    if (waiters === null) return;
    const key = payload.toString('latin1');
    const queue = waiters.get(key);
    if (queue === undefined) return;
    const sentAt = queue.shift() as number;
    const callback = queue.shift() as PongCallback | null;
    if (queue.length === 0) {
      waiters.delete(key);
      if (waiters.size === 0) this.#pongWaiters = null;
    }
    if (callback === null) this.#heartbeatUnanswered = false;
    else callback(performance.now() - sentAt);
  }

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
    // RFC 6455 §7.1.1: both Close frames are exchanged, and the server should now close TCP
    // (so that it, not we, holds TIME_WAIT). We do not half-close first; we wait for its FIN, or
    // for the linger to end.
    if (this.#pending === null) this.#flush();
    this.#startTimer(settings.closeLingerMs, Connection.#lingerEnded);
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

  /**
   * Sends `text` as one Text frame and returns its length in UTF-8 bytes. Encodes straight into
   * the frame's memory, so no intermediate buffer is made. Lone surrogates become U+FFFD, the
   * USVString conversion (as `Buffer.from` does).
   */
  sendText(text: string): number {
    // A UTF-16 code unit takes at most 3 bytes of UTF-8 (a surrogate pair: 4 for 2 units).
    const maxBytes = text.length * 3;
    if (this.#pending !== null || this.#phase !== Phase.OPEN || maxBytes > INLINE_MAX || this.#deflate !== null) {
      if (this.#pending === null && this.#phase === Phase.OPEN && maxBytes <= TEXT_SCRATCH_SIZE) {
        const scratch = (textScratch ??= Buffer.allocUnsafeSlow(TEXT_SCRATCH_SIZE));
        const length = scratch.write(text, 0, maxBytes, 'utf8');
        // #write copies the bytes out of the scratch (masking or compressing them) before it returns.
        this.#write(Opcode.TEXT, scratch.subarray(0, length), length);
        return length;
      }
      const bytes = Buffer.from(text, 'utf8');
      if (this.#pending !== null) this.#pending.push({ opcode: Opcode.TEXT, data: bytes, bytes: bytes.length });
      else this.#write(Opcode.TEXT, bytes, bytes.length);
      return bytes.length;
    }
    const headMax = frameHeadSize(maxBytes, true);
    const at = this.#reserve(headMax + maxBytes);
    const memory = slab;
    const length = memory.write(text, at + headMax, maxBytes, 'utf8');
    const headSize = frameHeadSize(length, true);
    // The head is shorter than reserved when the text has fewer bytes than the bound.
    if (headSize < headMax) memory.copyWithin(at + headSize, at + headMax, at + headMax + length);
    writeFrameHead(memory, at, Opcode.TEXT, length, maskPool);
    maskInPlace(memory, memory, at + headSize - 4, at + headSize, length);
    this.#extendRun(at + headSize + length, length);
    return length;
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

  /**
   * Sends a Ping carrying `payload` (at most 125 bytes, which nobody changes afterwards), behind
   * the messages already sent, and tells `onPong` the round trip, measured from this call, when a
   * Pong with the same payload answers it. Pongs answer the Pings of one payload in the order
   * sent. Returns false, sending nothing, once the closing handshake has begun.
   * @see RFC 6455 §5.5.2
   */
  ping(payload: Buffer, onPong: PongCallback): boolean {
    if (!this.canSend) return false;
    this.#sendPing(payload, onPong);
    return true;
  }

  #sendPing(payload: Buffer, onPong: PongCallback | null): void {
    const key = payload.toString('latin1');
    const waiters = (this.#pongWaiters ??= new Map());
    const queue = waiters.get(key);
    if (queue === undefined) waiters.set(key, [performance.now(), onPong]);
    else queue.push(performance.now(), onPong);
    this.#enqueue(Opcode.PING, payload, 0);
  }

  /**
   * Receive backpressure: stop reading the socket (also one not yet connected). Bytes already
   * read are still parsed and reported; the rest waits in the socket and the kernel, so TCP's
   * window closes on the peer.
   */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#socket?.pause();
  }

  /** Undoes {@link pause}: the socket is read again (from the next tick on, as streams resume). */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#socket?.resume();
  }

  #sendClose(code: number | undefined, reason: Uint8Array | undefined): void {
    this.#closeSent = true;
    this.#enqueue(Opcode.CLOSE, encodeCloseBody(code, reason), 0);
    this.#startTimer(settings.closeTimeoutMs, Connection.#closeTimedOut);
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
  }

  /**
   * Frames `data` (which is not modified) into this tick's batch; with permessage-deflate, data
   * messages are compressed here, in the order their frames go out (RFC 7692 §6: control frames
   * never are). `bytes` is what the message adds to bufferedAmount: its size before compression.
   */
  #write(opcode: Opcode, data: Uint8Array, bytes: number): void {
    if (this.#phase !== Phase.OPEN) return;
    let rsv1 = false;
    if (this.#deflate !== null && opcode < 0x8) {
      const compressed = this.#deflate.compress(data);
      if (compressed !== null) {
        // RFC 7692 §6.1: RSV1 on the (only) frame of a compressed message.
        data = compressed;
        rsv1 = true;
      }
    }
    const length = data.length;
    if (length > INLINE_MAX) {
      this.#writeLarge(opcode, data, bytes, rsv1);
      return;
    }
    const at = this.#reserve(frameHeadSize(length, true) + length);
    this.#extendRun(writeMaskedFrame(slab, at, opcode, data, maskPool, true, rsv1), bytes);
  }

  /**
   * Puts a large frame into the batch: its head into the run, then `data` (which is not
   * modified) masked into pooled pieces. A long message is written in groups as it is masked.
   */
  #writeLarge(opcode: Opcode, data: Uint8Array, bytes: number, rsv1: boolean): void {
    const length = data.length;
    const headSize = frameHeadSize(length, true);
    const at = this.#reserve(headSize);
    const key = slab;
    writeFrameHead(key, at, opcode, length, maskPool, true, rsv1);
    this.#extendRun(at + headSize, 0);
    this.#endRun();
    for (let offset = 0; offset < length; offset += PIECE_SIZE) {
      const n = length - offset < PIECE_SIZE ? length - offset : PIECE_SIZE;
      const piece = piecePool.take();
      // Pieces are multiples of 4 bytes long, so each starts the key cycle afresh.
      maskCopy(data.subarray(offset, offset + n), piece, 0, key, at + headSize - 4);
      (this.#batch ??= []).push(n === PIECE_SIZE ? piece : piece.subarray(0, n));
      const pieces = (this.#batchPieces ??= []);
      pieces.push(piece);
      if (pieces.length >= GROUP_PIECES && offset + n < length) this.#flush();
    }
    // Counted with the group holding the last piece, which the scheduled flush writes.
    this.#batchBytes += bytes;
    this.#scheduleFlush();
  }

  /**
   * Returns the slab offset where the next `size` bytes of this connection's frames go: the end
   * of its run if that is still the end of the slab (no other connection wrote since) and there
   * is room, else the start of a new run.
   */
  #reserve(size: number): number {
    if (this.#runSlab !== null && (this.#runSlab !== slab || this.#runEnd !== slabOffset || slabOffset + size > slab.length)) {
      this.#endRun();
    }
    if (slabOffset + size > slab.length) {
      slab = Buffer.allocUnsafeSlow(Math.max(SLAB_SIZE, size));
      slabOffset = 0;
    }
    if (this.#runSlab === null) {
      this.#runSlab = slab;
      this.#runStart = slabOffset;
    }
    return slabOffset;
  }

  /** Marks the slab bytes up to `end` as written by this connection, and schedules the flush. */
  #extendRun(end: number, bytes: number): void {
    slabOffset = end;
    this.#runEnd = end;
    this.#batchBytes += bytes;
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(flushConnection, this);
    }
  }

  /** Moves the open run, if any, to the batch as one chunk. */
  #endRun(): void {
    const run = this.#runSlab;
    if (run === null) return;
    this.#runSlab = null;
    const start = this.#runStart;
    // Slabs come from allocUnsafeSlow, so their memory starts at offset 0 of their ArrayBuffer.
    if (this.#runEnd > start) (this.#batch ??= []).push(Buffer.from(run.buffer, start, this.#runEnd - start));
  }

  /** Writes this tick's frames, in order, corked when there is more than one chunk. */
  #flush(): void {
    this.#flushScheduled = false;
    this.#endRun();
    const batch = this.#batch;
    if (batch === null) return;
    const bytes = this.#batchBytes;
    const pieces = this.#batchPieces;
    this.#batch = null;
    this.#batchBytes = 0;
    this.#batchPieces = null;
    const socket = this.#socket;
    if (socket === null || socket.destroyed) return;
    const last = batch.length - 1;
    if (last > 0) socket.cork();
    for (let i = 0; i < last; i++) socket.write(batch[i]);
    if (pieces !== null) {
      // Written means the socket is done with the pieces: back to the pool. After an error
      // they are left to the garbage collector.
      (this.#flushedSizes ??= []).push(bytes);
      socket.write(batch[last], (error?: Error | null) => {
        this.#batchWritten(error);
        if (!error) piecePool.give(pieces);
      });
    } else if (bytes > 0) {
      // One callback per batch reports the application bytes it carried.
      (this.#flushedSizes ??= []).push(bytes);
      socket.write(batch[last], (this.#onBatchWritten ??= this.#batchWritten.bind(this)));
    } else {
      socket.write(batch[last]);
    }
    if (last > 0) socket.uncork();
  }

  #batchWritten(error?: Error | null): void {
    const bytes = (this.#flushedSizes as number[]).shift() as number;
    if (!error && bytes > 0) this.#handler.onFlushed(bytes);
  }

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
      channels.fail.publish({ websocket: this.#owner, url: this.#href, reason, error });
    }
    this.#releaseDial();
    const socket = this.#socket;
    if (socket === null) {
      // Failed before any socket was connected (DNS, the queue, TCP or TLS): nothing to close.
      this.#closed(false);
      return;
    }
    if (this.#phase === Phase.OPEN && !this.#closeSent && code !== undefined) {
      this.#closeSent = true;
      this.#pending = null;
      this.#write(Opcode.CLOSE, encodeCloseBody(code), 0);
      this.#flush();
      // Half-close once the Close frame is out, and go on reading (the parser drops it all) for
      // up to settings.closeLingerMs, or until the peer's FIN. Destroying a socket with unread
      // bytes makes the kernel answer with a reset, and a peer that is still writing to us may
      // then lose our Close frame (seen in CI: the server's write failed before it read it).
      // The close event does not wait for that: it fires once the Close frame is out, as in
      // Chromium. The socket stays ref'd while it drains: a process that exited now would close
      // it with unread bytes, the same reset (seen in CI: a script that ends in its close
      // handler). So a process stays up to closeLingerMs longer. The timer bounds a peer that
      // never reads.
      socket.end(() => {
        setTimeout(Connection.#drainEnded, settings.closeLingerMs, socket).unref();
        this.#closed(false);
      });
      this.#startTimer(settings.closeTimeoutMs, Connection.#closeTimedOut);
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
      channels.fail.publish({ websocket: this.#owner, url: this.#href, reason: `socket error: ${error.message}`, error });
    }
  }

  /**
   * _The WebSocket Connection is Closed_: TCP is gone; `hadError` if it went with a transport
   * error (a reset), which our Close frame may not have survived. @see RFC 6455 §7.1.4
   */
  #onSocketClose(hadError: boolean): void {
    this.#closed(hadError);
  }

  #closed(hadError: boolean): void {
    if (this.#phase === Phase.CLOSED) return;
    this.#releaseDial();
    if (this.#phase === Phase.CONNECTING && !this.#failed) {
      this.#failed = true;
      if (channels.fail.hasSubscribers) {
        channels.fail.publish({ websocket: this.#owner, url: this.#href, reason: 'connection closed before the handshake completed' });
      }
    }
    this.#phase = Phase.CLOSED;
    this.#clearTimer();
    this.#batch = null;
    this.#batchPieces = null;
    this.#runSlab = null;
    this.#pending = null;
    // The zlib memory goes now, not when the connection is collected.
    this.#deflate?.close();
    // RFC 6455 §7.1.5: the close code is the one received in a Close frame, or 1006 without one.
    // Clean only if both Close frames were exchanged and TCP then closed without a reset (as
    // Chromium decides too): after a reset, the peer may never have seen our Close frame.
    const wasClean = this.#closeSent && this.#closeReceived && !this.#failed && !hadError;
    const code = this.#closeReceived ? this.#receivedCode : CloseCode.ABNORMAL_CLOSURE;
    const reason = this.#closeReceived ? this.#receivedReason : '';
    if (channels.close.hasSubscribers) {
      channels.close.publish({ websocket: this.#owner, url: this.#href, wasClean, code, reason });
    }
    this.#handler.onClosed(this.#failed, wasClean, code, reason);
    this.#endPings();
  }

  // --- heartbeat -------------------------------------------------------------------------------

  #armHeartbeat(ms: number): void {
    // Unref'd, as all our timers: only the socket keeps the process alive.
    this.#heartbeatTimer = setTimeout(Connection.#heartbeatTick, ms, this).unref();
  }

  /**
   * The heartbeat timer: every `interval` while anything arrives; after an interval with nothing
   * received, a Ping and `timeout` ms more; after those in silence too, the connection is failed.
   * A Ping therefore goes out between one and two intervals after the last read, and a silent
   * peer is failed `timeout` ms after it.
   */
  static #heartbeatTick(connection: Connection): void {
    connection.#heartbeatTimer = null;
    // The closing handshake has timers of its own, and no Pong would answer during it.
    if (!connection.canSend || connection.#failed) return;
    const heartbeat = connection.#options.heartbeat as HeartbeatConfig;
    // Any frame (or part of one) is a sign of life, a Pong as much as data. While reading is
    // paused for backpressure, silence says nothing about the peer.
    if (connection.#received || connection.#socket?.isPaused() === true) {
      connection.#received = false;
      connection.#heartbeatPinged = false;
      connection.#armHeartbeat(heartbeat.interval);
      return;
    }
    if (!connection.#heartbeatPinged) {
      // An interval without anything received: ask for a sign of life with an empty Ping. An
      // earlier heartbeat Ping still unanswered asks as well, so at most one is outstanding (a
      // peer that never answers Pings does not grow #pongWaiters).
      connection.#heartbeatPinged = true;
      if (!connection.#heartbeatUnanswered) {
        connection.#heartbeatUnanswered = true;
        connection.#sendPing(EMPTY, null);
      }
      connection.#armHeartbeat(heartbeat.timeout);
      return;
    }
    // The timeout passed in silence too. But the event loop may have been blocked meanwhile (a
    // long task, a loaded machine), with the answer unread in the kernel, or with our Ping not
    // yet answered by a peer in this very process (a test server, a proxy): decide after two
    // more turns of the loop, whose poll phases read the one and let the other answer.
    setImmediate(Connection.#heartbeatVerdict, connection, 2);
  }

  static #heartbeatVerdict(connection: Connection, turns: number): void {
    if (!connection.canSend || connection.#failed) return;
    if (connection.#received) {
      Connection.#heartbeatTick(connection);
      return;
    }
    if (turns > 1) {
      setImmediate(Connection.#heartbeatVerdict, connection, turns - 1);
      return;
    }
    // RFC 6455 §7.1.7 lets an endpoint omit the Close frame when the other side is unlikely to
    // receive it. A peer silent this long is presumed gone: a Close frame could not be answered,
    // and waiting for it to drain would hold back the close event the heartbeat exists to give.
    // So TCP is closed at once (error, then close 1006, not clean).
    const { interval, timeout } = connection.#options.heartbeat as HeartbeatConfig;
    connection.#fail(undefined, `heartbeat: nothing received for ${interval} ms, nor within ${timeout} ms after a Ping; the peer is presumed dead`);
  }

  /** The connection is closed: stop the heartbeat, and tell every Ping still waiting. */
  #endPings(): void {
    if (this.#heartbeatTimer !== null) {
      clearTimeout(this.#heartbeatTimer);
      this.#heartbeatTimer = null;
    }
    const waiters = this.#pongWaiters;
    if (waiters === null) return;
    this.#pongWaiters = null;
    // In the order the Pings were sent, across payloads.
    const left: [number, PongCallback][] = [];
    for (const queue of waiters.values()) {
      for (let i = 0; i < queue.length; i += 2) {
        if (queue[i + 1] !== null) left.push([queue[i] as number, queue[i + 1] as PongCallback]);
      }
    }
    left.sort((a, b) => a[0] - b[0]);
    for (const [, callback] of left) callback(null);
  }

  /** The handshake has ended: give our place in the per-address queue to the next socket. */
  #releaseDial(): void {
    const dial = this.#dial;
    if (dial === null) return;
    this.#dial = null;
    dial.cancel();
  }

  #startTimer(ms: number, onTimeout: (connection: Connection) => void): void {
    this.#clearTimer();
    // Unref'd: the socket alone decides whether the process stays alive.
    this.#timer = setTimeout(onTimeout, ms, this).unref();
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

// A socket we dropped (the 401 retry) may still report an error; nobody is listening for it.
function ignoreError(): void {}

/**
 * The origin our requests carry: that of a global `location` when the runtime has one (SSR
 * frameworks, test runners), serialized (an opaque origin is "null"); none otherwise.
 * @see https://websockets.spec.whatwg.org/#concept-websocket-establish (the client's origin)
 */
function clientOrigin(): string | null {
  const location = (globalThis as { location?: { href?: unknown } }).location;
  if (location === undefined || location === null || typeof location.href !== 'string') return null;
  try {
    return new URL(location.href).origin;
  } catch {
    return null;
  }
}
