/**
 * Types for both entries: `polyfill` (installs the globals) and `polyfill/ponyfill` (exports only).
 * The module part describes our classes; the global part restates what @types/node and lib.dom
 * already say about the globals (see the comment there).
 * @see https://websockets.spec.whatwg.org/#the-websocket-interface
 */
/// <reference types="node" />

import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type * as undici from 'undici-types';

/** How binary messages are exposed. @see https://websockets.spec.whatwg.org/#enumdef-binarytype */
export type BinaryType = 'blob' | 'arraybuffer';

/** The dictionary every event constructor takes; @types/node keeps its own private. */
interface EventInit {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
}

/** The dictionary `CloseEvent`'s constructor takes. @see https://websockets.spec.whatwg.org/#dictdef-closeeventinit */
export interface CloseEventInit extends EventInit {
  code?: number;
  reason?: string;
  wasClean?: boolean;
}

/**
 * The event fired when a WebSocket connection closes.
 * @see https://websockets.spec.whatwg.org/#the-closeevent-interface
 */
export declare class CloseEvent extends Event {
  constructor(type: string, eventInitDict?: CloseEventInit | null);
  /** The close code the server sent, 1005 if none, 1006 if no Close frame arrived. */
  readonly code: number;
  /** The close reason the server sent. */
  readonly reason: string;
  /** Whether the connection closed cleanly. */
  readonly wasClean: boolean;
}

/** The events a WebSocket fires, by name, as lib.dom's map lists them. @see https://websockets.spec.whatwg.org/#the-websocket-interface */
export interface WebSocketEventMap {
  close: CloseEvent;
  error: Event;
  message: MessageEvent;
  open: Event;
}

// --- the options dictionary --------------------------------------------------------------------

/**
 * Extra request headers: a `Headers`, a record of names to values, or `[name, value]` pairs.
 * Checked as Fetch checks them (names are tokens; values, trimmed, hold no CR, LF or NUL).
 * @see https://fetch.spec.whatwg.org/#typedefdef-headersinit
 */
export type WebSocketHeadersInit =
  | Iterable<readonly [name: string, value: string]>
  | Readonly<Record<string, string>>
  | GlobalHeaders;

/** The `tls.connect` options a socket may set; verification stays on unless `rejectUnauthorized: false`. */
export type WebSocketTlsInit = Pick<
  TlsConnectionOptions,
  | 'ca'
  | 'cert'
  | 'checkServerIdentity'
  | 'ciphers'
  | 'ecdhCurve'
  | 'key'
  | 'maxVersion'
  | 'minVersion'
  | 'passphrase'
  | 'pfx'
  | 'rejectUnauthorized'
  | 'secureContext'
  | 'servername'
>;

/** The object form of the `proxy` option: an `http:` or `https:` proxy, reached with CONNECT. */
export interface WebSocketProxyInit {
  /** The proxy; userinfo becomes `Proxy-Authorization: Basic ...` on the CONNECT request only. */
  url: string | URL;
  /** Extra CONNECT request headers (`Proxy-Authorization` wins over the URL's userinfo). */
  headers?: WebSocketHeadersInit;
  /** `tls.connect` options for the connection to an `https:` proxy. */
  tls?: WebSocketTlsInit;
}

/** Dead-peer detection, in ms. */
export interface WebSocketHeartbeatInit {
  /** Without anything received for this long, a Ping is sent. */
  interval: number;
  /** Without anything received for this long after that Ping, the connection fails. Default: `interval`. */
  timeout?: number;
}

/** The object form of the `perMessageDeflate` option. */
export interface WebSocketPerMessageDeflateInit {
  /** Messages smaller than this many bytes are sent uncompressed. */
  threshold?: number;
}

/**
 * The Node-side options: the second argument of the constructor, when it is neither a string
 * nor an iterable of strings. Unknown keys are ignored; a key set to `undefined` is absent.
 * @see the README's "Node options"
 */
export interface WebSocketInit {
  /** Subprotocols to offer, exactly as the Standard's second argument. */
  protocols?: string | Iterable<string>;
  /** Extra handshake request headers; `Host`, `Origin`, `User-Agent`, `Authorization` and `Cookie` replace ours. */
  headers?: WebSocketHeadersInit;
  /** For `wss:`: options for `tls.connect`, over the defaults. */
  tls?: WebSocketTlsInit;
  /** An HTTP(S) proxy; `null` for none even where environment proxies are on; absent: the environment's. */
  proxy?: string | URL | WebSocketProxyInit | null;
  /** ms from the constructor until the 101 has been validated (DNS, TCP, proxy and TLS included). Default 30000. */
  handshakeTimeout?: number;
  /** The largest incoming message in bytes, after inflation; a larger one fails the connection with 1009. Default 100 MiB. */
  maxPayload?: number;
  /** permessage-deflate (RFC 7692): `true` (the default), `false`, or `{ threshold }`. */
  perMessageDeflate?: boolean | WebSocketPerMessageDeflateInit;
  /** Dead-peer detection; off by default. */
  heartbeat?: WebSocketHeartbeatInit;
  /** A Unix domain socket to connect to instead of host:port; not with `proxy`. */
  socketPath?: string;
  /** Skip RFC 6455 §4.1's one-connection-per-address queue for this socket. */
  parallelConnect?: boolean;
  /** undici's option, which this WebSocket does not take: it throws a TypeError. Use `proxy` and `tls`. */
  dispatcher?: never;
}

// The listener and option shapes of EventTarget: @types/node keeps these interfaces private and
// lib.dom may be absent, so they are spelled out here (module-private, see `export {}` below).
type EventListenerLike = ((event: Event) => void) | { handleEvent(event: Event): void };
interface AddEventListenerOptionsLike extends EventListenerOptions {
  once?: boolean;
  passive?: boolean;
  signal?: AbortSignal;
}

/**
 * A WebSocket client with the behaviour the WHATWG WebSockets Standard defines.
 * @see https://websockets.spec.whatwg.org/#the-websocket-interface
 */
export declare class WebSocket extends EventTarget {
  /**
   * Parses `url` (ws:, wss:, http: or https:, no fragment) and starts connecting.
   * `protocols` may be any iterable of distinct tokens (a string is one protocol), or a
   * {@link WebSocketInit} dictionary of Node-side options; bad options throw before anything
   * connects.
   */
  constructor(url: string | URL, protocols?: string | Iterable<string> | WebSocketInit | null);

  static readonly CONNECTING: 0;
  static readonly OPEN: 1;
  static readonly CLOSING: 2;
  static readonly CLOSED: 3;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;

  /** The URL the connection was made to, serialized. */
  readonly url: string;
  /** The state of the connection: CONNECTING, OPEN, CLOSING or CLOSED. */
  readonly readyState: number;
  /** Bytes queued by send() and not yet handed to the network, as of the last task. */
  readonly bufferedAmount: number;
  /** The extensions the server selected; '' until open. */
  readonly extensions: string;
  /** The subprotocol the server selected; '' until open. */
  readonly protocol: string;
  /** 'blob' (the default) or 'arraybuffer': how binary messages are delivered. Other values are ignored. */
  binaryType: BinaryType;

  onopen: ((this: WebSocket, ev: Event) => any) | null;
  /** A plain Event: the Standard keeps failure details from scripts (see ChannelName). */
  onerror: ((this: WebSocket, ev: Event) => any) | null;
  onmessage: ((this: WebSocket, ev: MessageEvent) => any) | null;
  onclose: ((this: WebSocket, ev: CloseEvent) => any) | null;

  /** Closes with an optional code (1000 or 3000-4999) and reason (at most 123 bytes of UTF-8). */
  close(code?: number, reason?: string): void;
  /** Queues a message; throws an InvalidStateError while CONNECTING. */
  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void;

  addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: WebSocket, ev: WebSocketEventMap[K]) => any,
    options?: boolean | AddEventListenerOptionsLike,
  ): void;
  addEventListener(type: string, listener: EventListenerLike | null, options?: boolean | AddEventListenerOptionsLike): void;
  removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: WebSocket, ev: WebSocketEventMap[K]) => any,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(type: string, listener: EventListenerLike | null, options?: boolean | EventListenerOptions): void;
}

/** Names of the `node:diagnostics_channel` channels where failure causes are published. */
export declare const ChannelName: {
  readonly open: 'polyfill:websocket:open';
  readonly fail: 'polyfill:websocket:fail';
  readonly close: 'polyfill:websocket:close';
  readonly handshake: 'polyfill:websocket:handshake';
  readonly ping: 'polyfill:websocket:ping';
  readonly pong: 'polyfill:websocket:pong';
};

// --- ping() -----------------------------------------------------------------------------------

/**
 * Sends a Ping carrying `data` (empty by default, at most 125 bytes) and resolves with the round
 * trip in ms once the Pong with the same payload arrives; Pings with one payload resolve in the
 * order sent. Throws a TypeError for a non-WebSocket or another type of data, a `SyntaxError`
 * DOMException over 125 bytes; rejects with an `InvalidStateError` DOMException when the socket
 * is not OPEN or closes before the Pong. A function, not a method: the class stays the Standard's.
 * Accepts the global `WebSocket` type too, which `import 'polyfill'` makes ours at run time.
 * @see RFC 6455 §5.5.2
 */
export declare function ping(ws: WebSocket | globalThis.WebSocket, data?: string | ArrayBuffer | ArrayBufferView): Promise<number>;

// --- WebSocketStream and WebSocketError ---------------------------------------------------------

/**
 * A close code and reason: the argument of `close()`, the value of `closed`, the init of
 * `WebSocketError`. @see https://whatpr.org/websockets/48.html#dictdef-websocketcloseinfo
 */
export interface WebSocketCloseInfo {
  /** 1000 or 3000-4999 when script sets it; any code the connection closed with in `closed`. */
  closeCode?: number;
  /** At most 123 bytes of UTF-8. */
  reason?: string;
}

/** What `opened` resolves to. @see https://whatpr.org/websockets/48.html#dictdef-websocketopeninfo */
export interface WebSocketOpenInfo {
  /** The extensions the server selected. */
  extensions: string;
  /** The subprotocol the server selected. */
  protocol: string;
  /** Messages: text as strings, binary as Uint8Arrays. Reading slowly pushes back on the server. */
  readable: ReadableStream<string | Uint8Array>;
  /** BufferSources go out as binary messages, anything else as text. */
  writable: WritableStream<any>;
}

/** The options of `new WebSocketStream()`. @see https://whatpr.org/websockets/48.html#dictdef-websocketstreamoptions */
export interface WebSocketStreamOptions extends Omit<WebSocketInit, 'protocols'> {
  /** Subprotocols to offer: distinct tokens. */
  protocols?: Iterable<string>;
  /** Aborts the opening handshake (after it, it does nothing). Any AbortSignal implementation. */
  signal?: AbortSignal;
}

/**
 * A WebSocket client whose messages are a ReadableStream and a WritableStream, with
 * backpressure both ways.
 * @see https://whatpr.org/websockets/48.html#the-websocketstream-interface
 */
export declare class WebSocketStream {
  /** Parses `url` (ws:, wss:, http: or https:, no fragment) and starts connecting. */
  constructor(url: string | URL, options?: WebSocketStreamOptions | null);
  /** The URL the connection was made to, serialized. */
  readonly url: string;
  /** Resolves once the handshake succeeded; rejects with a WebSocketError (or the abort reason) if it did not. */
  readonly opened: Promise<WebSocketOpenInfo>;
  /** Resolves with the close code and reason on a clean close; rejects with a WebSocketError otherwise. */
  readonly closed: Promise<WebSocketCloseInfo>;
  /** Starts the closing handshake (fails the handshake while connecting). */
  close(closeInfo?: WebSocketCloseInfo | null): void;
}

/**
 * A DOMException named "WebSocketError" with a close code and reason: what `closed` rejects with,
 * and what `readable.cancel()` and `writable.abort()` take to choose the code sent.
 * @see https://whatpr.org/websockets/48.html#the-websocketerror-interface
 */
export declare class WebSocketError extends DOMException {
  /** Throws an InvalidAccessError for codes other than 1000 and 3000-4999, a SyntaxError for reasons over 123 bytes. */
  constructor(message?: string, init?: WebSocketCloseInfo | null);
  /** The close code; null if none was given (a reason alone means 1000). */
  readonly closeCode: number | null;
  readonly reason: string;
}

// The globals. A `var` may be declared many times only if every declaration has the identical
// type (else TS2403), and @types/node 20+ declares `var WebSocket` (24 and 26 also `CloseEvent`) while
// lib.dom declares both. So these copy @types/node's conditional form: lib.dom's type when
// lib.dom is loaded, else undici's, which is what @types/node says. Identical declarations
// merge with whichever of them the consumer has; a type of our own would conflict.
//
// One step differs: @types/node 18 declares neither global, and the undici-types 5 it depends
// on types events wrongly without lib.dom (its `Event` is the constructor's type, so `e.type`
// and `ws.dispatchEvent` fail). There, and only there (undici-types 5 has no `EventSource`;
// 6 to 8, which come with @types/node 20+, do), the globals are typed as our classes.
//
// This file also types `polyfill/ponyfill`, which leaves globalThis alone. That is harmless:
// with lib.dom or @types/node 24 or 26 these lines add nothing that is not declared already; with
// @types/node 20 or 22 they add only `CloseEvent` next to the `WebSocket` declared already;
// only with @types/node 18 and no lib.dom do ponyfill users see globals Node 18 lacks.
//
// `undici-types` is @types/node's own dependency and our optional peer dependency: it resolves
// here when it is hoisted (npm, yarn, and pnpm's default hidden hoisting into .pnpm/node_modules),
// and under pnpm's `hoist=false` when the app depends on it (pnpm then links the peer beside us).
// It cannot be declared locally instead: the global `var`s must name @types/node's very copy.
// Our classes under names the `declare global` block below can see past its own globals.
type WebSocketClass = typeof WebSocket;
type CloseEventClass = typeof CloseEvent;
type UndiciHasGlobals = typeof undici extends { EventSource: any } ? true : false;
type _WebSocket = typeof globalThis extends { onmessage: any } ? {}
  : UndiciHasGlobals extends true ? undici.WebSocket : WebSocket;
type _CloseEvent = typeof globalThis extends { onmessage: any } ? {}
  : UndiciHasGlobals extends true ? undici.CloseEvent : CloseEvent;
type _CloseEventInit = typeof globalThis extends { onmessage: any } ? {}
  : UndiciHasGlobals extends true ? undici.CloseEventInit : CloseEventInit;

declare global {
  interface WebSocket extends _WebSocket {}
  var WebSocket: typeof globalThis extends { onmessage: any; WebSocket: infer T } ? T
    : UndiciHasGlobals extends true ? typeof undici.WebSocket : WebSocketClass;

  interface CloseEvent extends _CloseEvent {}
  var CloseEvent: typeof globalThis extends { onmessage: any; CloseEvent: infer T } ? T
    : UndiciHasGlobals extends true ? typeof undici.CloseEvent : CloseEventClass;

  interface CloseEventInit extends _CloseEventInit {}
}

// The global WebSocket's constructor. Where @types/node types it with undici's (Node 20+, no
// lib.dom), its dictionary, undici's WebSocketInit, gains our keys: the global is ours at run
// time. (ponyfill users see them too on the native global, which ignores them.) undici's own
// `headers` and `protocols` keep undici's types, and its `dispatcher` stays typed: it throws at
// run time. Where lib.dom types the global, its constructor is an anonymous type that takes
// protocols only and that nothing can widen: code that passes options there imports the class,
// `import { WebSocket } from 'polyfill'`, the very constructor the global holds.
declare module 'undici-types' {
  interface WebSocketInit {
    tls?: WebSocketTlsInit;
    proxy?: string | URL | WebSocketProxyInit | null;
    handshakeTimeout?: number;
    maxPayload?: number;
    perMessageDeflate?: boolean | WebSocketPerMessageDeflateInit;
    heartbeat?: WebSocketHeartbeatInit;
    socketPath?: string;
    parallelConnect?: boolean;
  }
}

// The global Headers' instance type where one is declared (lib.dom, @types/node 20+); none with
// @types/node 18 alone. Node's Headers are iterable, so at run time the pairs form takes them.
type GlobalHeaders = typeof globalThis extends { Headers: { prototype: infer H } } ? H : never;


// WebSocketStream and WebSocketError: neither lib.dom nor @types/node declares them yet. Copying
// the conditional above (`typeof globalThis extends { WebSocketStream: infer T }`) is circular
// while ours is the only declaration (TS2502), so whether another one exists is read from the
// global `WebSocketOpenInfo` interface instead: declared empty here, it has members only when
// lib.dom (or @types/node) declares the interface too. Then every global below defers to that
// declaration, as the WebSocket ones do; until then they are ours. (So without such a
// declaration, the global `WebSocketOpenInfo` type is empty: import it from 'polyfill'.)
type WebSocketStreamClass = typeof WebSocketStream;
type WebSocketErrorClass = typeof WebSocketError;
type HasGlobalWebSocketStream = keyof globalThis.WebSocketOpenInfo extends never ? false : true;
type _WebSocketStream = HasGlobalWebSocketStream extends true ? {} : WebSocketStream;
type _WebSocketError = HasGlobalWebSocketStream extends true ? {} : WebSocketError;
type _WebSocketCloseInfo = HasGlobalWebSocketStream extends true ? {} : WebSocketCloseInfo;
type _WebSocketStreamOptions = HasGlobalWebSocketStream extends true ? {} : WebSocketStreamOptions;

declare global {
  interface WebSocketOpenInfo {}

  interface WebSocketStream extends _WebSocketStream {}
  var WebSocketStream: HasGlobalWebSocketStream extends true
    ? typeof globalThis extends { WebSocketStream: infer T } ? T : never
    : WebSocketStreamClass;

  interface WebSocketError extends _WebSocketError {}
  var WebSocketError: HasGlobalWebSocketStream extends true
    ? typeof globalThis extends { WebSocketError: infer T } ? T : never
    : WebSocketErrorClass;

  interface WebSocketCloseInfo extends _WebSocketCloseInfo {}
  interface WebSocketStreamOptions extends _WebSocketStreamOptions {}
}

// Keeps the helper types above private: a declaration file without it exports everything.
export {};
