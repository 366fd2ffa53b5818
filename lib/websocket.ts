/**
 * The WHATWG `WebSocket` interface over {@link Connection}.
 * @see https://websockets.spec.whatwg.org/#the-websocket-interface
 */
import { Blob } from 'node:buffer';
import { ReadyState } from './constants';
import { Connection, type ConnectionHandler } from './connection';
import { dropHandlerMap, fireEvent } from './dispatch';
import { CloseEvent } from './events';
import { toConnectOptions, type WebSocketInit } from './options';
import { checkProtocols, parseWebSocketURL } from './url';
import { validateCloseCodeAndReason } from './validation';
import {
  defineInterface,
  illegalInvocation,
  missingArguments,
  toClampedUnsignedShort,
  toDOMString,
  toSendData,
  toUSVString,
} from './webidl';

/** How binary messages are exposed. @see https://websockets.spec.whatwg.org/#enumdef-binarytype */
export type BinaryType = 'blob' | 'arraybuffer';

type HandlerName = 'open' | 'message' | 'error' | 'close';

// The event handler attributes add and remove their listener with the original methods (and
// fireEvent dispatches with the original dispatchEvent): HTML's "add an event listener" and
// "fire an event" are not calls of properties the page may have replaced.
const addListener = EventTarget.prototype.addEventListener;
const removeListener = EventTarget.prototype.removeEventListener;

// Received messages waiting for their task, as (WebSocket, data) pairs from index messageHead
// on (data: decoded text, or binary bytes); shared by the WebSockets of this realm.
const messageQueue: unknown[] = [];
let messageHead = 0;

/**
 * @internal For ping.ts, which must reach a socket's connection without a visible member: the
 * connection of an OPEN WebSocket, `null` for a WebSocket in another state, `undefined` for any
 * value that is not a WebSocket. Assigned in the class's static block.
 */
export let openConnectionOf: (value: unknown) => Connection | null | undefined;

/**
 * A WebSocket client with the behaviour the WHATWG WebSockets Standard defines.
 * @see https://websockets.spec.whatwg.org/#the-websocket-interface
 */
export class WebSocket extends EventTarget {
  declare static readonly CONNECTING: 0;
  declare static readonly OPEN: 1;
  declare static readonly CLOSING: 2;
  declare static readonly CLOSED: 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  // The URL, serialized: the URL record itself is not kept (it costs ~160 bytes per socket).
  #url: string;
  #readyState: ReadyState = ReadyState.CONNECTING;
  #bufferedAmount = 0;
  #flushedSinceTask = 0; // bytes written since the last task that lowered bufferedAmount
  #protocol = '';
  #extensions = '';
  #binaryType: BinaryType = 'blob';
  #origin: string | null = null;
  #connection: Connection;
  // Event handler attributes. A handler's listener is in the listener list exactly while its
  // value is non-null, so the value alone says whether the listener was added.
  #onopen: EventHandlerValue = null;
  #onmessage: EventHandlerValue = null;
  #onerror: EventHandlerValue = null;
  #onclose: EventHandlerValue = null;

  static {
    openConnectionOf = (value) => {
      if (typeof value !== 'object' || value === null || !(#url in value)) return undefined;
      const ws = value as WebSocket;
      return ws.#readyState === ReadyState.OPEN ? ws.#connection : null;
    };
  }

  /**
   * The constructor steps.
   * @see https://websockets.spec.whatwg.org/#dom-websocket-websocket
   */
  constructor(url: string | URL, protocols: string | Iterable<string> | WebSocketInit | null | undefined = undefined) {
    super();
    dropHandlerMap(this);
    if (arguments.length === 0) throw missingArguments('WebSocket', 'constructor', 1, 0);
    const urlString = toUSVString(url);
    // The second argument: the Standard's protocols, or a WebSocketInit of Node-side options.
    const options = toConnectOptions(protocols, 'WebSocket');
    const protocolList = options.protocols;
    // 1-7. Parse the URL; 8-9. check the protocols.
    const record = parseWebSocketURL(urlString, 'WebSocket');
    checkProtocols(protocolList, 'WebSocket');
    // 10. Set this's url to urlRecord.
    this.#url = record.href;
    // 12. Establish a WebSocket connection in parallel; its outcome comes back as tasks.
    this.#connection = new Connection(record, options, new WebSocket.#Feedback(this), this);
  }

  /** The URL the connection was made to, serialized. */
  get url(): string {
    if (!(#url in this)) throw illegalInvocation('WebSocket', 'url');
    return this.#url;
  }

  /** The state of the connection: CONNECTING, OPEN, CLOSING or CLOSED. */
  get readyState(): number {
    if (!(#url in this)) throw illegalInvocation('WebSocket', 'readyState');
    return this.#readyState;
  }

  /**
   * Bytes of application data queued by send() and not yet handed to the network, as of the
   * last task boundary. Keeps growing after the connection closes.
   * @see https://websockets.spec.whatwg.org/#dom-websocket-bufferedamount
   */
  get bufferedAmount(): number {
    if (!(#url in this)) throw illegalInvocation('WebSocket', 'bufferedAmount');
    return this.#bufferedAmount;
  }

  /** The extensions the server selected; '' until open. */
  get extensions(): string {
    if (!(#url in this)) throw illegalInvocation('WebSocket', 'extensions');
    return this.#extensions;
  }

  /** The subprotocol the server selected; '' until open. */
  get protocol(): string {
    if (!(#url in this)) throw illegalInvocation('WebSocket', 'protocol');
    return this.#protocol;
  }

  /** 'blob' (the default) or 'arraybuffer': how binary messages are delivered. */
  get binaryType(): BinaryType {
    if (!(#url in this)) throw illegalInvocation('WebSocket', 'binaryType');
    return this.#binaryType;
  }

  /** Values other than 'blob' and 'arraybuffer' are ignored, as WebIDL enumerations require. */
  set binaryType(value: BinaryType) {
    if (!(#url in this)) throw illegalInvocation('WebSocket', 'binaryType');
    const type = toDOMString(value);
    if (type === 'blob' || type === 'arraybuffer') this.#binaryType = type;
  }

  get onopen(): EventHandlerValue {
    if (!(#url in this)) throw illegalInvocation('WebSocket', 'onopen');
    return this.#onopen;
  }
  set onopen(value: EventHandlerValue) {
    if (!(#url in this)) throw illegalInvocation('WebSocket', 'onopen');
    const handler = toEventHandler(value);
    this.#updateListener('open', this.#onopen, handler);
    this.#onopen = handler;
  }
  get onerror(): EventHandlerValue {
    if (!(#url in this)) throw illegalInvocation('WebSocket', 'onerror');
    return this.#onerror;
  }
  set onerror(value: EventHandlerValue) {
    if (!(#url in this)) throw illegalInvocation('WebSocket', 'onerror');
    const handler = toEventHandler(value);
    this.#updateListener('error', this.#onerror, handler);
    this.#onerror = handler;
  }
  get onclose(): EventHandlerValue {
    if (!(#url in this)) throw illegalInvocation('WebSocket', 'onclose');
    return this.#onclose;
  }
  set onclose(value: EventHandlerValue) {
    if (!(#url in this)) throw illegalInvocation('WebSocket', 'onclose');
    const handler = toEventHandler(value);
    this.#updateListener('close', this.#onclose, handler);
    this.#onclose = handler;
  }
  get onmessage(): EventHandlerValue {
    if (!(#url in this)) throw illegalInvocation('WebSocket', 'onmessage');
    return this.#onmessage;
  }
  set onmessage(value: EventHandlerValue) {
    if (!(#url in this)) throw illegalInvocation('WebSocket', 'onmessage');
    const handler = toEventHandler(value);
    this.#updateListener('message', this.#onmessage, handler);
    this.#onmessage = handler;
  }

  /**
   * The close() method steps.
   * @see https://websockets.spec.whatwg.org/#dom-websocket-close
   */
  close(code?: number, reason?: string): void {
    if (!(#url in this)) throw illegalInvocation('WebSocket', 'close');
    // WebIDL: optional [Clamp] unsigned short code, optional USVString reason.
    const hasCode = code !== undefined;
    const clamped = hasCode ? toClampedUnsignedShort(code) : 0;
    const reasonString = reason === undefined ? undefined : toUSVString(reason);
    // 1-2. The code must be 1000 or 3000-4999, and the reason at most 123 bytes of UTF-8.
    const reasonBytes = validateCloseCodeAndReason(hasCode ? clamped : null, reasonString ?? '', "Failed to execute 'close' on 'WebSocket'");
    // 3. The first matching case:
    const state = this.#readyState;
    // - CLOSING or CLOSED: do nothing.
    if (state === ReadyState.CLOSING || state === ReadyState.CLOSED) return;
    if (state === ReadyState.CONNECTING) {
      // - Not yet established: fail the connection, and set the ready state to CLOSING.
      this.#connection.abort('close() was called before the connection was established');
    } else {
      // - Closing handshake not started: start it (no body when there is no code; the reason
      //   goes with a code only), and set the ready state to CLOSING. If the peer started it
      //   already, the connection has answered and this changes only the ready state.
      this.#connection.close(hasCode ? clamped : undefined, hasCode ? reasonBytes : undefined);
    }
    this.#readyState = ReadyState.CLOSING;
  }

  /**
   * The send() method steps.
   * @see https://websockets.spec.whatwg.org/#dom-websocket-send
   */
  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    if (!(#url in this)) throw illegalInvocation('WebSocket', 'send');
    if (arguments.length === 0) throw missingArguments('WebSocket', 'send', 1, 0);
    const converted = toSendData(data);
    // 1. CONNECTING throws an InvalidStateError.
    if (this.#readyState === ReadyState.CONNECTING) {
      throw new DOMException("Failed to execute 'send' on 'WebSocket': still in CONNECTING state; wait for the open event.", 'InvalidStateError');
    }
    // 2. Send when established and the closing handshake has not started; either way, raise
    //    bufferedAmount by the bytes of the message.
    const connection = this.#connection;
    const canSend = this.#readyState === ReadyState.OPEN && connection.canSend;
    if (converted.kind === 'text') {
      // A lone surrogate is sent and counted as U+FFFD (3 bytes), the USVString conversion.
      this.#bufferedAmount += canSend ? connection.sendText(converted.value) : Buffer.byteLength(converted.value, 'utf8');
    } else if (converted.kind === 'bytes') {
      if (canSend) connection.send(false, converted.value);
      this.#bufferedAmount += converted.value.length;
    } else {
      if (canSend) connection.sendBlob(converted.value);
      this.#bufferedAmount += converted.value.size;
    }
  }

  /**
   * HTML's event handler attributes: the listener is added when the handler is first set to
   * non-null, keeps its place in the list while the handler is replaced, and is removed when the
   * handler is set to null.
   * @see https://html.spec.whatwg.org/multipage/webappapis.html#event-handler-attributes
   */
  #updateListener(name: HandlerName, previous: EventHandlerValue, next: EventHandlerValue): void {
    if (next === null) {
      if (previous !== null) removeListener.call(this, name, WebSocket.#handlerListeners[name]);
    } else if (previous === null) {
      addListener.call(this, name, WebSocket.#handlerListeners[name]);
    }
  }

  // One listener function per event type, shared by every WebSocket (the target is `this`), so
  // that setting a handler makes no closure. "The event handler processing algorithm": call the
  // current handler; a return value of false cancels the event.
  static readonly #handlerListeners: Record<HandlerName, (this: WebSocket, event: Event) => void> = {
    open(event) {
      WebSocket.#callHandler(this, this.#onopen, event);
    },
    message(event) {
      WebSocket.#callHandler(this, this.#onmessage, event);
    },
    error(event) {
      WebSocket.#callHandler(this, this.#onerror, event);
    },
    close(event) {
      WebSocket.#callHandler(this, this.#onclose, event);
    },
  };

  static #callHandler(ws: WebSocket, callback: EventHandlerValue, event: Event): void {
    if (typeof callback !== 'function') return;
    const result = (callback as (this: WebSocket, event: Event) => unknown).call(ws, event);
    if (result === false) event.preventDefault();
  }

  /**
   * The connection reports here; every report that the page can see becomes a task. One small
   * object per WebSocket, with its methods on the prototype rather than closures.
   */
  static readonly #Feedback = class Feedback implements ConnectionHandler {
    readonly #ws: WebSocket;
    constructor(ws: WebSocket) {
      this.#ws = ws;
    }
    onEstablished(protocol: string, extensions: string): void {
      setImmediate(WebSocket.#establishedTask, this.#ws, protocol, extensions);
    }
    onMessage(data: string | Buffer): void {
      // One Immediate per message, as the spec queues one task per message; it takes its message
      // from a FIFO shared by all WebSockets, so no argument list is allocated per message.
      messageQueue.push(this.#ws, data);
      setImmediate(WebSocket.#nextMessageTask);
    }
    onClosingHandshakeStarted(): void {
      setImmediate(WebSocket.#closingTask, this.#ws);
    }
    onFlushed(bytes: number): void {
      // Lowered in a task, so the value stays put while script runs (the spec's "as of the
      // last time the event loop reached step 1").
      const ws = this.#ws;
      if (ws.#flushedSinceTask === 0) setImmediate(WebSocket.#flushedTask, ws);
      ws.#flushedSinceTask += bytes;
    }
    onClosed(failed: boolean, wasClean: boolean, code: number, reason: string): void {
      setImmediate(WebSocket.#closedTask, this.#ws, failed, wasClean, code, reason);
    }
  };

  /** @see https://websockets.spec.whatwg.org/#feedback-from-the-protocol (connection establishment) */
  static #establishedTask(ws: WebSocket, protocol: string, extensions: string): void {
    // close() during CONNECTING has failed the connection already; it never opens.
    if (ws.#readyState !== ReadyState.CONNECTING) return;
    // 1. Change the ready state to OPEN. 2-3. Set extensions and protocol.
    ws.#readyState = ReadyState.OPEN;
    ws.#extensions = extensions;
    ws.#protocol = protocol;
    // 4. Fire an event named open.
    fireEvent(ws, new Event('open'));
  }

  /**
   * Runs the oldest queued message task. Immediates run in the order they were queued and each
   * takes exactly one entry, so entry and Immediate always match.
   */
  static #nextMessageTask(): void {
    const q = messageQueue;
    const h = messageHead;
    const ws = q[h] as WebSocket;
    const data = q[h + 1] as string | Buffer;
    q[h] = q[h + 1] = undefined;
    messageHead = h + 2;
    if (messageHead === q.length) {
      q.length = 0;
      messageHead = 0;
    } else if (messageHead >= 2 * 1024 && 2 * messageHead >= q.length) {
      q.splice(0, messageHead);
      messageHead = 0;
    }
    WebSocket.#messageTask(ws, data);
  }

  /** @see https://websockets.spec.whatwg.org/#feedback-from-the-protocol (a message has been received) */
  static #messageTask(ws: WebSocket, data: string | Buffer): void {
    // 1. If the ready state is not OPEN, return.
    if (ws.#readyState !== ReadyState.OPEN) return;
    // 2. dataForEvent, by type and the binary type in force now.
    let value: string | ArrayBuffer | Blob;
    // Text was decoded when it arrived (the parser had checked its bytes).
    if (typeof data === 'string') value = data;
    else if (ws.#binaryType === 'arraybuffer') value = toArrayBuffer(data);
    else value = new Blob([data]);
    // 3. Fire a MessageEvent with origin = the serialization of the URL's origin.
    ws.#origin ??= new URL(ws.#url).origin;
    fireEvent(ws, new MessageEvent('message', { data: value, origin: ws.#origin }));
  }

  /** @see https://websockets.spec.whatwg.org/#feedback-from-the-protocol (closing handshake started) */
  static #closingTask(ws: WebSocket): void {
    if (ws.#readyState < ReadyState.CLOSING) ws.#readyState = ReadyState.CLOSING;
  }

  static #flushedTask(ws: WebSocket): void {
    ws.#bufferedAmount -= ws.#flushedSinceTask;
    ws.#flushedSinceTask = 0;
  }

  /** @see https://websockets.spec.whatwg.org/#closeWebSocket */
  static #closedTask(ws: WebSocket, failed: boolean, wasClean: boolean, code: number, reason: string): void {
    // 1. Change the ready state to CLOSED.
    ws.#readyState = ReadyState.CLOSED;
    // 2. If the connection was failed, fire an event named error.
    if (failed) fireEvent(ws, new Event('error'));
    // 3. Fire a CloseEvent named close.
    fireEvent(ws, new CloseEvent('close', { wasClean, code, reason }));
  }
}

type EventHandlerValue = ((this: WebSocket, event: Event) => unknown) | object | null;

/** [LegacyTreatNonObjectAsNull]: non-objects are null; objects are kept even if not callable. */
function toEventHandler(value: unknown): EventHandlerValue {
  return value !== null && (typeof value === 'object' || typeof value === 'function') ? value : null;
}

defineInterface(WebSocket, {
  constants: ReadyState,
  operationLengths: { close: 0, send: 1 },
});

/** An ArrayBuffer holding exactly `data`: the buffer itself when `data` spans all of it. */
function toArrayBuffer(data: Buffer): ArrayBuffer {
  const buffer = data.buffer as ArrayBuffer;
  if (data.byteOffset === 0 && data.byteLength === buffer.byteLength) return buffer;
  // A fresh ArrayBuffer filled through a view is cheaper than ArrayBuffer#slice (measured).
  const copy = new ArrayBuffer(data.byteLength);
  new Uint8Array(copy).set(data);
  return copy;
}
