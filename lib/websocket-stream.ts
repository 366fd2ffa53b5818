/**
 * The `WebSocketStream` and `WebSocketError` interfaces: messages as a ReadableStream and a
 * WritableStream, with backpressure both ways, over the same {@link Connection} as WebSocket.
 * @see https://whatpr.org/websockets/48.html#the-websocketstream-interface
 */
import * as types from 'node:util/types';
import { ReadableStream, WritableStream, type ReadableStreamDefaultController, type WritableStreamDefaultController } from 'node:stream/web';
import { CloseCode, ReadyState } from './constants';
import { Connection, type ConnectionHandler } from './connection';
import { type ConnectOptions, toInitDictionary, type WebSocketInit } from './options';
import { checkProtocols, parseWebSocketURL } from './url';
import { validateCloseCodeAndReason } from './validation';
import { defineInterface, illegalInvocation, missingArguments, toDOMString, toEnforcedUnsignedShort, toUSVString } from './webidl';

/** What `opened` resolves to. @see https://whatpr.org/websockets/48.html#dictdef-websocketopeninfo */
export interface WebSocketOpenInfo {
  extensions: string;
  protocol: string;
  readable: ReadableStream<string | Uint8Array>;
  writable: WritableStream<unknown>;
}

/** A close code and reason: `close()`'s argument, `closed`'s value, `WebSocketError`'s init. @see https://whatpr.org/websockets/48.html#dictdef-websocketcloseinfo */
export interface WebSocketCloseInfo {
  closeCode?: number;
  reason?: string;
}

/** The signal option: an AbortSignal, or any object shaped like one (the `abort-controller` package's). */
interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** `new WebSocketStream()`'s options. @see https://whatpr.org/websockets/48.html#dictdef-websocketstreamoptions */
export interface WebSocketStreamOptions extends Omit<WebSocketInit, 'protocols'> {
  protocols?: Iterable<string>;
  signal?: AbortSignalLike;
}

// Bytes of received messages held for the readable before the socket is paused; it is read
// again once they are down to half. The spec leaves the amount to us ("an implementation-defined
// amount of data"): 256 KiB keeps a slow reader's memory small, and a fast one rarely stops it.
const RECEIVE_BUFFER = 256 * 1024;
// A write resolves once at most this many bytes of the messages written so far wait to be handed
// to the operating system: the spec's "sufficient buffer space" (Chromium's is its data pipe).
// Small writes then share a socket write (resolving each only once its own frame was handed over
// made 64-byte messages 4x slower: one system call each), while a loop of awaited writes still
// holds no more than this plus one message in memory, and a message larger than this resolves
// once it has been handed to the OS itself.
const SEND_BUFFER = 256 * 1024;

function ignore(): void {}

// --- WebSocketError ---------------------------------------------------------------------------

// Makes a WebSocketError with a code that script may not set (1006, or the server's 1001); bound
// in WebSocketError's static block, where its private fields can be written.
let createWebSocketError: (message: string, closeCode: number | null, reason: string) => WebSocketError;
let isWebSocketError: (value: unknown) => value is WebSocketError;
let closeInfoOf: (error: WebSocketError) => { code: number | null; reason: string };

/**
 * A DOMException named "WebSocketError" carrying a close code and reason.
 * @see https://whatpr.org/websockets/48.html#the-websocketerror-interface
 */
export class WebSocketError extends DOMException {
  #closeCode: number | null = null;
  #reason = '';

  /**
   * The constructor steps.
   * @see https://whatpr.org/websockets/48.html#dom-websocketerror-websocketerror
   */
  constructor(message: string = '', init: WebSocketCloseInfo | null = {}) {
    // WebIDL: optional DOMString message = "", optional WebSocketCloseInfo init = {}.
    const text = message === undefined ? '' : toDOMString(message);
    const info = toCloseInfo(init, "Failed to construct 'WebSocketError'");
    // 1-2. Set this's name to "WebSocketError" and its message to message.
    super(text, 'WebSocketError');
    // 3-4. code is init's closeCode or null; reason is init's reason or the empty string.
    let code = info.closeCode;
    const reason = info.reason;
    // 5. Validate close code and reason.
    validateCloseCodeAndReason(code, reason, "Failed to construct 'WebSocketError'");
    // 6. A reason without a code means 1000 ("Normal Closure").
    if (reason !== '' && code === null) code = CloseCode.NORMAL;
    // 7-8. Set this's closeCode and reason.
    this.#closeCode = code;
    this.#reason = reason;
  }

  /** The close code: one script may send, or the one the connection closed with. */
  get closeCode(): number | null {
    if (!(#closeCode in this)) throw illegalInvocation('WebSocketError', 'closeCode');
    return this.#closeCode;
  }

  /** The close reason. */
  get reason(): string {
    if (!(#closeCode in this)) throw illegalInvocation('WebSocketError', 'reason');
    return this.#reason;
  }

  static {
    createWebSocketError = (message, closeCode, reason) => {
      const error = new WebSocketError(message);
      error.#closeCode = closeCode;
      error.#reason = reason;
      return error;
    };
    isWebSocketError = (value): value is WebSocketError => typeof value === 'object' && value !== null && #closeCode in value;
    closeInfoOf = (error) => ({ code: error.#closeCode, reason: error.#reason });
  }
}

defineInterface(WebSocketError, {});

/** WebIDL dictionary `WebSocketCloseInfo`: null and undefined are empty; reason defaults to "". */
function toCloseInfo(value: unknown, context: string): { closeCode: number | null; reason: string } {
  if (value === undefined || value === null) return { closeCode: null, reason: '' };
  if (typeof value !== 'object' && typeof value !== 'function') {
    throw new TypeError(`${context}: the close info must be an object such as { closeCode, reason }.`);
  }
  // Members in lexicographic order, each read once.
  const closeCode = (value as { closeCode?: unknown }).closeCode;
  const code = closeCode === undefined ? null : toEnforcedUnsignedShort(closeCode, `${context}: closeCode`);
  const reason = (value as { reason?: unknown }).reason;
  return { closeCode: code, reason: reason === undefined ? '' : toUSVString(reason) };
}

// --- options -----------------------------------------------------------------------------------

/**
 * WebIDL dictionary `WebSocketStreamOptions`: `protocols` (sequence<USVString>) and `signal`,
 * plus the Node keys of WebSocketInit with the same meaning as for WebSocket; null and
 * undefined are an empty dictionary.
 */
function toStreamOptions(value: unknown): { options: ConnectOptions; signal: AbortSignalLike | undefined } {
  if (value !== undefined && value !== null && typeof value !== 'object' && typeof value !== 'function') {
    throw new TypeError("Failed to construct 'WebSocketStream': the options must be an object such as { protocols, signal }.");
  }
  let signal: AbortSignalLike | undefined;
  const options = toInitDictionary((value ?? {}) as Record<string, unknown>, 'WebSocketStream', {
    signal(member) {
      if (member !== undefined) signal = toAbortSignal(member);
    },
  });
  return { options, signal };
}

/** Accepts an AbortSignal from any implementation: an object with `aborted` and the listener methods. */
function toAbortSignal(value: unknown): AbortSignalLike {
  const signal = value as Partial<AbortSignalLike> | null;
  if (
    signal === null ||
    typeof signal !== 'object' ||
    typeof signal.aborted !== 'boolean' ||
    typeof signal.addEventListener !== 'function' ||
    typeof signal.removeEventListener !== 'function'
  ) {
    throw new TypeError("Failed to construct 'WebSocketStream': options.signal is not an AbortSignal.");
  }
  return signal as AbortSignalLike;
}

/** A signal's abort reason; one without `reason` (older AbortSignal polyfills) gets the DOM's default. */
function abortReason(signal: AbortSignalLike): unknown {
  const reason = signal.reason;
  return reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason;
}

// --- WebSocketStream ---------------------------------------------------------------------------

type Chunk = string | Uint8Array;

/** A deferred promise whose rejection never counts as unhandled (see the constructor). */
class Deferred<T> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  reject!: (reason: unknown) => void;
  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.promise.catch(ignore);
  }
}

/**
 * A WebSocket client whose messages are read from a ReadableStream and written to a
 * WritableStream, as the WHATWG draft (whatwg/websockets#48) and Chromium define it.
 * @see https://whatpr.org/websockets/48.html#the-websocketstream-interface
 */
export class WebSocketStream {
  #url: URL;
  #opened = new Deferred<WebSocketOpenInfo>();
  #closed = new Deferred<WebSocketCloseInfo>();
  #readyState: ReadyState = ReadyState.CONNECTING;
  #wasEverConnected = false;
  #handshakeAborted = false;
  #connection: Connection | null = null;
  #signal: AbortSignalLike | null = null;
  #onAbort: (() => void) | null = null;

  // The readable: its controller once open; done once it was cancelled, closed or errored.
  #readable: ReadableStreamDefaultController<Chunk> | null = null;
  #readableDone = false;
  #writable: WritableStreamDefaultController | null = null;

  // Receive backpressure. Messages wait in #inbox (chunk, byte size, chunk, size...; taken from
  // #inboxHead on) until the readable pulls, one per pull; #released says it pulled with nothing
  // there, so the next message goes to it at once (once the socket read that brought it ends).
  #inbox: (Chunk | number)[] = [];
  #inboxHead = 0;
  #inboxBytes = 0;
  #released = false;
  #deliveryScheduled = false;
  #paused = false;
  // close(), cancel or abort was called: messages are dropped from then on.
  #discarding = false;
  // Closed cleanly with messages still in the inbox: the readable closes after the last one.
  #closeWhenDrained = false;

  // Send backpressure: bytes written and not yet handed to the OS, and the write waiting for
  // them to drop to SEND_BUFFER (the writable has one write in flight at most).
  #unsent = 0;
  #writeWaiter: (() => void) | null = null;

  /**
   * The constructor steps.
   * @see https://whatpr.org/websockets/48.html#dom-websocketstream-websocketstream
   */
  constructor(url: string | URL, options: WebSocketStreamOptions | null = {}) {
    if (arguments.length === 0) throw missingArguments('WebSocketStream', 'constructor', 1, 0);
    // WebIDL: USVString url, optional WebSocketStreamOptions options = {}.
    const urlString = toUSVString(url);
    const { options: connectOptions, signal } = toStreamOptions(options);
    // 1-2. Get a URL record from url and the API base URL.
    const record = parseWebSocketURL(urlString, 'WebSocketStream');
    // 3-4. protocols, each a token, none twice.
    checkProtocols(connectOptions.protocols, 'WebSocketStream');
    // 5. Set this's url to urlRecord.
    this.#url = record;
    // 6. The opened and closed promises are made with the fields above (see Deferred: unlike a
    //    page, a Node process ends on an unhandled rejection, so neither counts as unhandled, and
    //    code that awaits only `opened` does not crash when `closed` rejects too).
    // 7. Apply backpressure: nothing is delivered until the readable exists and pulls.
    // 8. The signal.
    if (signal !== undefined) {
      // 8.2. Already aborted: reject opened and closed with its abort reason, and return.
      if (signal.aborted) {
        const reason = abortReason(signal);
        this.#opened.reject(reason);
        this.#closed.reject(reason);
        return;
      }
      // 8.3. Add the abort steps; removed once the handshake has ended, when they do nothing.
      const onAbort = (): void => WebSocketStream.#abortSteps(this);
      this.#signal = signal;
      this.#onAbort = onAbort;
      signal.addEventListener('abort', onAbort, { once: true });
    }
    // 9-10. Establish a WebSocket connection in parallel; its outcome comes back as tasks.
    this.#connection = new Connection(record, connectOptions, new WebSocketStream.#Feedback(this), this);
  }

  /** The URL the connection was made to, serialized. */
  get url(): string {
    if (!(#url in this)) throw illegalInvocation('WebSocketStream', 'url');
    return this.#url.href;
  }

  /** Resolves with `{ extensions, protocol, readable, writable }` once the handshake succeeds. */
  get opened(): Promise<WebSocketOpenInfo> {
    // WebIDL: a promise-returning attribute rejects rather than throws.
    if (!(#url in this)) return Promise.reject(illegalInvocation('WebSocketStream', 'opened'));
    return this.#opened.promise;
  }

  /** Resolves with `{ closeCode, reason }` on a clean close; rejects with a WebSocketError otherwise. */
  get closed(): Promise<WebSocketCloseInfo> {
    if (!(#url in this)) return Promise.reject(illegalInvocation('WebSocketStream', 'closed'));
    return this.#closed.promise;
  }

  /**
   * The close() method steps.
   * @see https://whatpr.org/websockets/48.html#dom-websocketstream-close
   */
  close(closeInfo: WebSocketCloseInfo | null = {}): void {
    if (!(#url in this)) throw illegalInvocation('WebSocketStream', 'close');
    // WebIDL: optional WebSocketCloseInfo closeInfo = {}.
    const info = toCloseInfo(closeInfo, "Failed to execute 'close' on 'WebSocketStream'");
    // 1-3. Close the WebSocket with closeCode (null if absent) and reason.
    this.#closeTheWebSocket(info.closeCode, info.reason, "Failed to execute 'close' on 'WebSocketStream'");
  }

  /**
   * _Close the WebSocket_; validation failures throw.
   * @see https://whatpr.org/websockets/48.html#close-the-websocket
   */
  #closeTheWebSocket(code: number | null, reason: string, context: string): void {
    // 1-3. Validate the code and the reason.
    const reasonBytes = validateCloseCodeAndReason(code, reason, context);
    // 4. The first matching case:
    const state = this.#readyState;
    // - CLOSING or CLOSED: do nothing.
    if (state === ReadyState.CLOSING || state === ReadyState.CLOSED) return;
    const connection = this.#connection;
    if (state === ReadyState.CONNECTING) {
      // - Not yet established: fail the connection (aborted before any connection: none).
      connection?.abort('close() was called before the connection was established');
    } else if (connection !== null && connection.canSend) {
      // - Closing handshake not started: start it. No body without code and reason; a reason
      //   without a code goes with 1000.
      if (code === null && reason === '') connection.close();
      else connection.close(code ?? CloseCode.NORMAL, reasonBytes);
    }
    // - In every case: the ready state becomes CLOSING.
    this.#readyState = ReadyState.CLOSING;
    // Messages are dropped from now on (the message steps return unless OPEN), so none is held
    // back any more, and the socket is read again to see the closing handshake through.
    this.#dropInbox();
  }

  /**
   * _Close using reason_: a WebSocketError's code and reason, else none; if they do not
   * validate (a code from the server, such as 1006), none.
   * @see https://whatpr.org/websockets/48.html#close-using-reason
   */
  #closeUsingReason(reason: unknown): void {
    // 1-3. code and reasonString from a WebSocketError.
    let code: number | null = null;
    let reasonString = '';
    if (isWebSocketError(reason)) ({ code, reason: reasonString } = closeInfoOf(reason));
    // 4. Close the WebSocket; if that throws, close it without them.
    try {
      this.#closeTheWebSocket(code, reasonString, 'WebSocketStream');
    } catch {
      this.#closeTheWebSocket(null, '', 'WebSocketStream');
    }
  }

  /** The signal's abort steps. @see https://whatpr.org/websockets/48.html#dom-websocketstream-websocketstream (step 8.3) */
  static #abortSteps(stream: WebSocketStream): void {
    // 1. Only while the connection is not yet established.
    if (stream.#readyState !== ReadyState.CONNECTING) return;
    const reason = abortReason(stream.#signal as AbortSignalLike);
    stream.#forgetSignal();
    // 1.1. Fail the WebSocket connection. 1.2. The ready state becomes CLOSING.
    stream.#connection?.abort('the AbortSignal was aborted before the connection was established');
    stream.#readyState = ReadyState.CLOSING;
    stream.#dropInbox();
    // 1.3. Reject opened and closed with the abort reason. 1.4. The handshake was aborted.
    stream.#opened.reject(reason);
    stream.#closed.reject(reason);
    stream.#handshakeAborted = true;
  }

  #forgetSignal(): void {
    const signal = this.#signal;
    if (signal === null) return;
    signal.removeEventListener('abort', this.#onAbort as () => void);
    this.#signal = null;
    this.#onAbort = null;
  }

  // --- receiving -------------------------------------------------------------------------------

  /** Holds a received message for the readable; pauses the socket when too much is held. */
  #receive(data: string | Buffer, size: number): void {
    // The message steps return unless OPEN: after close(), cancel or abort, drop it. (A peer's
    // Close frame comes after its messages; those are still delivered.)
    if (this.#discarding || this.#readableDone) return;
    this.#inbox.push(typeof data === 'string' ? data : toUint8Array(data), size);
    this.#inboxBytes += size;
    if (this.#released && !this.#deliveryScheduled) {
      // The readable waits for a message: give it once this read of the socket has been parsed
      // (it may hold more messages, and a Close frame), never from inside the parse.
      this.#deliveryScheduled = true;
      process.nextTick(WebSocketStream.#deliveryTask, this);
    }
    if (!this.#paused && this.#inboxBytes > RECEIVE_BUFFER) {
      this.#paused = true;
      this.#connection?.pause();
    }
  }

  static #deliveryTask(stream: WebSocketStream): void {
    stream.#deliveryScheduled = false;
    if (stream.#released) stream.#deliver();
  }

  /**
   * _Pull bytes_: the readable's queue is empty, so backpressure is released: the oldest
   * waiting message goes to it now, or the next one to arrive does.
   * @see https://whatpr.org/websockets/48.html#pull-bytes
   */
  #pull(): void {
    this.#released = true;
    if (this.#inboxHead < this.#inbox.length) this.#deliver();
  }

  /**
   * Enqueues the oldest waiting message and applies backpressure again: one message per pull
   * (Node 18 and 20 shift a ReadableStream's queue in linear time, so a long queue there would
   * make reading quadratic; the inbox is a cheap FIFO).
   */
  #deliver(): void {
    const inbox = this.#inbox;
    const head = this.#inboxHead;
    if (head === inbox.length || this.#readableDone) return;
    const chunk = inbox[head] as Chunk;
    this.#inboxBytes -= inbox[head + 1] as number;
    inbox[head] = inbox[head + 1] = 0;
    this.#inboxHead = head + 2;
    if (this.#inboxHead === inbox.length) {
      inbox.length = 0;
      this.#inboxHead = 0;
    } else if (this.#inboxHead >= 2048 && 2 * this.#inboxHead >= inbox.length) {
      inbox.splice(0, this.#inboxHead);
      this.#inboxHead = 0;
    }
    this.#released = false;
    if (this.#paused && this.#inboxBytes <= RECEIVE_BUFFER / 2) {
      this.#paused = false;
      this.#connection?.resume();
    }
    // Last, as enqueuing may pull again (when a read was waiting for this chunk).
    const controller = this.#readable as ReadableStreamDefaultController<Chunk>;
    controller.enqueue(chunk);
    if (this.#closeWhenDrained && this.#inboxHead === this.#inbox.length && !this.#readableDone) {
      this.#readableDone = true;
      controller.close();
    }
  }

  /** After close(), cancel or abort: nothing more is delivered, so nothing is held back. */
  #dropInbox(): void {
    this.#discarding = true;
    this.#inbox = [];
    this.#inboxHead = 0;
    this.#inboxBytes = 0;
    this.#released = false;
    if (this.#paused) {
      this.#paused = false;
      this.#connection?.resume();
    }
  }

  // --- stream algorithms -----------------------------------------------------------------------

  /**
   * _Cancel_ the readable.
   * @see https://whatpr.org/websockets/48.html#cancel
   */
  #cancel(reason: unknown): void {
    this.#readableDone = true;
    this.#dropInbox();
    this.#closeUsingReason(reason);
  }

  /**
   * _Write_ a chunk: a BufferSource as a binary message, anything else as text. Resolves once at
   * most SEND_BUFFER bytes written so far wait to be handed to the OS (see there), counted
   * through the connection's onFlushed reports.
   * @see https://whatpr.org/websockets/48.html#write
   */
  #write(chunk: unknown): Promise<void> | undefined {
    const connection = this.#connection as Connection;
    // 4. A BufferSource: a copy of its bytes, binary (the framer copies them as it masks).
    //    Views on shared memory count as binary too, as in Chromium.
    let bytes: Uint8Array | null = null;
    if (types.isArrayBuffer(chunk)) bytes = chunk.byteLength === 0 ? new Uint8Array(0) : new Uint8Array(chunk);
    else if (ArrayBuffer.isView(chunk)) bytes = chunk.buffer.byteLength === 0 ? new Uint8Array(0) : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    // 5. Otherwise a USVString, as text; a conversion that throws rejects the write.
    let text = '';
    if (bytes === null) {
      try {
        text = toUSVString(chunk);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    // 6.2. Send unless the closing handshake has started.
    if (!connection.canSend) return undefined;
    this.#unsent += bytes === null ? connection.sendText(text) : (connection.send(false, bytes), bytes.length);
    // 6.1, 6.3. Resolve once there is buffer space again.
    if (this.#unsent <= SEND_BUFFER) return undefined;
    return new Promise<void>((resolve) => {
      this.#writeWaiter = resolve;
    });
  }

  /** Bytes were handed to the OS: the waiting write resolves once few enough are left. */
  #flushed(bytes: number): void {
    this.#unsent -= bytes;
    const waiter = this.#writeWaiter;
    if (waiter !== null && this.#unsent <= SEND_BUFFER) {
      this.#writeWaiter = null;
      waiter();
    }
  }

  // --- feedback from the protocol --------------------------------------------------------------

  /**
   * The connection reports here, inside socket reads; every report script can see becomes a
   * task. Messages are held by the stream (see #receive), which queues their tasks itself.
   */
  static readonly #Feedback = class Feedback implements ConnectionHandler {
    readonly #stream: WebSocketStream;
    constructor(stream: WebSocketStream) {
      this.#stream = stream;
    }
    onEstablished(protocol: string, extensions: string): void {
      setImmediate(WebSocketStream.#establishedTask, this.#stream, protocol, extensions);
    }
    onMessage(data: string | Buffer, byteLength: number): void {
      this.#stream.#receive(data, byteLength);
    }
    onClosingHandshakeStarted(): void {
      const stream = this.#stream;
      // No message follows the peer's Close frame: read on, to see TCP close.
      if (stream.#paused) {
        stream.#paused = false;
        stream.#connection?.resume();
      }
      setImmediate(WebSocketStream.#closingTask, stream);
    }
    onFlushed(bytes: number): void {
      this.#stream.#flushed(bytes);
    }
    onClosed(_failed: boolean, wasClean: boolean, code: number, reason: string): void {
      setImmediate(WebSocketStream.#closedTask, this.#stream, wasClean, code, reason);
    }
  };

  /** @see https://whatpr.org/websockets/48.html#feedback-to-websocket-stream-from-the-protocol (establishment) */
  static #establishedTask(stream: WebSocketStream, protocol: string, extensions: string): void {
    // Aborted or closed while connecting: the connection has been failed; it never opens.
    if (stream.#readyState !== ReadyState.CONNECTING) return;
    stream.#forgetSignal();
    // 1. The ready state becomes OPEN. 2. Set was ever connected. 3-4. extensions and protocol.
    stream.#readyState = ReadyState.OPEN;
    stream.#wasEverConnected = true;
    // 5-8. The readable, set up with the pull and cancel algorithms (high water mark 1, so it
    //      pulls whenever its queue is empty).
    const readable = new ReadableStream<Chunk>({
      start: (controller) => {
        stream.#readable = controller;
      },
      pull: () => stream.#pull(),
      cancel: (reason) => stream.#cancel(reason),
    });
    // 9-13. The writable, set up with the write, close and abort algorithms.
    const writable = new WritableStream<unknown>({
      start: (controller) => {
        stream.#writable = controller;
      },
      write: (chunk) => stream.#write(chunk),
      // _Close_: close the WebSocket without code and reason.
      close: () => stream.#closeTheWebSocket(null, '', 'WebSocketStream'),
      // _Abort_: close using reason.
      abort: (reason) => stream.#closeUsingReason(reason),
    });
    // 14-16. Resolve opened with the WebSocketOpenInfo (members in WebIDL's order).
    stream.#opened.resolve({ extensions, protocol, readable, writable });
  }

  /** @see https://whatpr.org/websockets/48.html#feedback-to-websocket-stream-from-the-protocol (closing handshake started) */
  static #closingTask(stream: WebSocketStream): void {
    if (stream.#readyState < ReadyState.CLOSING) stream.#readyState = ReadyState.CLOSING;
  }

  /** @see https://whatpr.org/websockets/48.html#feedback-to-websocket-stream-from-the-protocol (connection closed) */
  static #closedTask(stream: WebSocketStream, wasClean: boolean, code: number, reason: string): void {
    stream.#forgetSignal();
    // A write waiting for buffer space resolves (the spec resolves it whether or not it was sent).
    stream.#unsent = 0;
    const waiter = stream.#writeWaiter;
    stream.#writeWaiter = null;
    waiter?.();
    // 1. The ready state becomes CLOSED.
    stream.#readyState = ReadyState.CLOSED;
    // 2. After an abort, opened and closed are settled already.
    if (stream.#handshakeAborted) return;
    // 3. Never connected: reject opened with a new WebSocketError (no details, per the
    //    Standard's warning; they go to the diagnostics channels).
    if (!stream.#wasEverConnected) stream.#opened.reject(new WebSocketError('The WebSocket connection could not be established.'));
    // 4-5. code and reason (decoded by the parser, BOM kept).
    const readable = stream.#readable;
    const readableOpen = readable !== null && !stream.#readableDone;
    if (wasClean) {
      // 6.1. Clean: close the readable, after the messages that arrived before the close.
      if (readableOpen) {
        if (stream.#inboxHead < stream.#inbox.length) {
          stream.#closeWhenDrained = true;
        } else {
          stream.#readableDone = true;
          readable.close();
        }
      }
      // 6.2-6.3. Error the writable; resolve closed.
      stream.#writable?.error(new DOMException('A closed WebSocketStream cannot be written to.', 'InvalidStateError'));
      stream.#closed.resolve({ closeCode: code, reason });
    } else {
      // 7. Otherwise: one WebSocketError with the code and reason errors both streams (the
      //    readable's queued messages go with it) and rejects closed.
      stream.#readableDone = true;
      stream.#inbox = [];
      stream.#inboxHead = 0;
      stream.#inboxBytes = 0;
      const error = createWebSocketError(`The WebSocket connection closed with code ${code}.`, code, reason);
      if (readableOpen) readable.error(error);
      stream.#writable?.error(error);
      stream.#closed.reject(error);
    }
  }
}

defineInterface(WebSocketStream, { operationLengths: { close: 0 } });

/**
 * A Uint8Array holding exactly `data`: over its ArrayBuffer when `data` spans all of it (the
 * parser's joined messages own theirs), else over a copy, since views share socket chunks.
 */
function toUint8Array(data: Buffer): Uint8Array {
  const buffer = data.buffer;
  if (data.byteOffset === 0 && data.byteLength === buffer.byteLength && data.byteLength !== 0) return new Uint8Array(buffer);
  return new Uint8Array(data);
}
