/**
 * The per-socket options record every connection is made from: the Standard's protocols plus
 * the Node-side keys of a `WebSocketInit` dictionary, validated once and frozen. The constructor
 * converts its second argument with {@link toConnectOptions}; everything below reads the record.
 * @see https://webidl.spec.whatwg.org/#es-dictionary
 */
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { settings } from './settings';
import { isToken } from './validation';
import { iterateToStrings, toDOMString, toStringOrStringSequence, toUSVStringSequence } from './webidl';

/** An explicit proxy: where to connect, and what to add to the CONNECT request. */
export interface ProxyConfig {
  /** An `http:` or `https:` URL; userinfo becomes `Proxy-Authorization: Basic ...`. */
  readonly url: URL;
  /** Extra CONNECT request headers, validated. */
  readonly headers: readonly (readonly [string, string])[];
  /** `tls.connect` options for an `https:` proxy. */
  readonly tls: TlsConnectionOptions;
}

/** Dead-peer detection. @see the README's "Node options" */
export interface HeartbeatConfig {
  /** ms without anything received before we send a Ping. */
  readonly interval: number;
  /** ms after that Ping without anything received before the connection is failed. */
  readonly timeout: number;
}

/** permessage-deflate as configured for one socket; `false` offers nothing. @see RFC 7692 */
export type DeflateConfig = false | { readonly threshold: number };

/** Everything a {@link Connection} is made from. */
export interface ConnectOptions {
  /** Subprotocols to offer, already validated (tokens, no duplicates). */
  readonly protocols: readonly string[];
  /** Extra request headers in the order given, validated; names keep the user's case. */
  readonly headers: readonly (readonly [string, string])[];
  /** Extra `tls.connect` options for `wss:`. */
  readonly tls: TlsConnectionOptions;
  /** `undefined`: from the environment (if enabled); `null`: none; else the proxy to use. */
  readonly proxy: ProxyConfig | null | undefined;
  /** ms from the constructor until the 101 has been validated. */
  readonly handshakeTimeout: number;
  /** Largest incoming message in bytes, after inflation. */
  readonly maxPayload: number;
  readonly perMessageDeflate: DeflateConfig;
  readonly heartbeat: HeartbeatConfig | null;
  /** A Unix domain socket to connect to instead of host:port. */
  readonly socketPath: string | null;
  /** Skip RFC 6455 §4.1's per-address queue. */
  readonly parallelConnect: boolean;
}

/** Extra request headers: a `Headers`, a record of names to values, or `[name, value]` pairs. @see https://fetch.spec.whatwg.org/#typedefdef-headersinit */
export type WebSocketHeadersInit = Iterable<readonly [name: string, value: string]> | Readonly<Record<string, string>> | Headers;

/** The `tls.connect` options a socket may set; the rest stay Node's defaults. */
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

/** The object form of the `proxy` option. */
export interface WebSocketProxyInit {
  url: string | URL;
  headers?: WebSocketHeadersInit;
  tls?: WebSocketTlsInit;
}

/** The `heartbeat` option, in ms. */
export interface WebSocketHeartbeatInit {
  interval: number;
  timeout?: number;
}

/** The object form of the `perMessageDeflate` option. */
export interface WebSocketPerMessageDeflateInit {
  threshold?: number;
}

/**
 * The dictionary form of the constructor's second argument.
 * @see the README's "Node options"
 */
export interface WebSocketInit {
  protocols?: string | Iterable<string>;
  headers?: WebSocketHeadersInit;
  tls?: WebSocketTlsInit;
  proxy?: string | URL | WebSocketProxyInit | null;
  handshakeTimeout?: number;
  maxPayload?: number;
  perMessageDeflate?: boolean | WebSocketPerMessageDeflateInit;
  heartbeat?: WebSocketHeartbeatInit;
  socketPath?: string;
  parallelConnect?: boolean;
  /** undici's option; throws. */
  dispatcher?: never;
}


const NO_STRINGS: readonly string[] = Object.freeze([]);
const NO_HEADERS: readonly (readonly [string, string])[] = Object.freeze([]);
const DEFAULT_DEFLATE: DeflateConfig = Object.freeze({ threshold: 0 });
// The record of sockets made with no protocols and no options, which most are: shared while the
// settings it was read from stay the same, since a connection keeps its record (~200 bytes
// with its arrays) for as long as it lives.
let sharedDefaults: ConnectOptions | null = null;

/** The options of a socket made with protocols only: the process-wide defaults. */
export function defaultConnectOptions(protocols: readonly string[]): ConnectOptions {
  if (protocols.length === 0) {
    const shared = sharedDefaults;
    if (
      shared !== null &&
      shared.tls === settings.tls &&
      shared.handshakeTimeout === settings.handshakeTimeoutMs &&
      shared.maxPayload === settings.maxMessageSize &&
      shared.heartbeat === settings.heartbeat
    ) {
      return shared;
    }
    return (sharedDefaults = defaultsWith(NO_STRINGS));
  }
  return defaultsWith(protocols);
}

function defaultsWith(protocols: readonly string[]): ConnectOptions {
  return Object.freeze({
    protocols,
    headers: NO_HEADERS,
    tls: settings.tls,
    proxy: undefined,
    handshakeTimeout: settings.handshakeTimeoutMs,
    maxPayload: settings.maxMessageSize,
    perMessageDeflate: DEFAULT_DEFLATE,
    heartbeat: settings.heartbeat,
    socketPath: null,
    parallelConnect: false,
  });
}

// --- converting a WebSocketInit -------------------------------------------------------------

// Header names the handshake owns, by lower-case name, with what to do instead.
const HANDSHAKE_HEADERS = new Map<string, string>([
  ['sec-websocket-key', 'the handshake generates it'],
  ['sec-websocket-version', 'the handshake sets it (always 13)'],
  ['sec-websocket-accept', 'it is a response header'],
  ['sec-websocket-extensions', 'use the perMessageDeflate option instead'],
  ['sec-websocket-protocol', 'use the protocols option instead'],
  ['upgrade', 'the handshake sets it'],
  ['connection', 'the handshake sets it'],
  ['content-length', 'the handshake request has no body'],
  ['transfer-encoding', 'the handshake request has no body'],
  ['keep-alive', 'the connection becomes a WebSocket'],
  ['te', 'the handshake request has no body'],
  ['trailer', 'the handshake request has no body'],
]);

// Names a CONNECT request owns: its request line and Host name the target.
const CONNECT_HEADERS = new Map<string, string>([
  ['host', 'the CONNECT request names the target'],
  ['content-length', 'a CONNECT request has no body'],
  ['transfer-encoding', 'a CONNECT request has no body'],
  ['connection', 'the proxy request sets it'],
  ['upgrade', 'the proxy request sets it'],
  ['te', 'a CONNECT request has no body'],
  ['trailer', 'a CONNECT request has no body'],
]);

// The tls.connect options that may be given, as issue-tracker users ask for them.
const TLS_KEYS = [
  'ca',
  'cert',
  'checkServerIdentity',
  'ciphers',
  'ecdhCurve',
  'key',
  'maxVersion',
  'minVersion',
  'passphrase',
  'pfx',
  'rejectUnauthorized',
  'secureContext',
  'servername',
] as const;

const isObject = (value: unknown): value is object => value !== null && (typeof value === 'object' || typeof value === 'function');

/** Which constructor is converting, for the messages. */
const fail = (interfaceName: string, message: string): TypeError => new TypeError(`Failed to construct '${interfaceName}': ${message}`);

/** A value shown in a message: strings quoted, the rest as JS would print them. */
function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}...` : value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (isObject(value)) return 'an object';
  return String(value);
}

/**
 * The constructor's second argument: a string or an iterable of strings is the Standard's
 * protocols; any other object is a WebSocketInit dictionary (WebIDL: members read in
 * lexicographic order, each once; an undefined member is absent; unknown members are ignored,
 * except undici's `dispatcher`, which throws so that it is never silently dropped).
 * `undefined` is no protocols and `null` the protocol "null", as in browsers.
 * @see https://webidl.spec.whatwg.org/#es-union, https://webidl.spec.whatwg.org/#es-dictionary
 */
export function toConnectOptions(value: unknown, interfaceName: string): ConnectOptions {
  if (value === undefined) return defaultConnectOptions([]);
  if (!isObject(value)) return defaultConnectOptions(toStringOrStringSequence(value));
  // WebIDL's union, for an object: a Symbol.iterator (read once, as GetMethod does) makes it the
  // sequence, a non-callable one is a TypeError, and without one it is the dictionary.
  const method = (value as { [Symbol.iterator]?: unknown })[Symbol.iterator];
  if (method === undefined || method === null) return toInitDictionary(value as Record<string, unknown>, interfaceName);
  if (typeof method !== 'function') {
    throw new TypeError(`Failed to construct '${interfaceName}': the second argument's Symbol.iterator is not a function, so it is neither protocols nor an options dictionary.`);
  }
  return defaultConnectOptions(iterateToStrings(value, method as () => unknown, toDOMString, 'protocols'));
}

/** What WebSocketStreamOptions changes: `protocols` is a sequence<USVString>, and `signal` is read too. */
export interface StreamMembers {
  /** Called with the `signal` member (maybe undefined), between `proxy` and `socketPath`. */
  signal(value: unknown): void;
}

/** A WebSocketInit (or WebSocketStreamOptions) dictionary, validated into a ConnectOptions. */
export function toInitDictionary(init: Record<string, unknown>, interfaceName: string, stream?: StreamMembers): ConnectOptions {
  const defaults = defaultConnectOptions([]);
  // Lexicographic order, as WebIDL reads dictionary members.
  const dispatcher = init.dispatcher;
  if (dispatcher !== undefined) {
    throw fail(interfaceName, "options.dispatcher is undici's option and is not supported here; use options.proxy for a proxy and options.tls for TLS settings.");
  }
  const rawHandshakeTimeout = init.handshakeTimeout;
  const handshakeTimeout = rawHandshakeTimeout === undefined ? defaults.handshakeTimeout : positive(rawHandshakeTimeout, 'options.handshakeTimeout', interfaceName);
  const rawHeaders = init.headers;
  const headers = rawHeaders === undefined ? defaults.headers : toHeaderList(rawHeaders, 'options.headers', HANDSHAKE_HEADERS, interfaceName);
  const rawHeartbeat = init.heartbeat;
  const heartbeat = rawHeartbeat === undefined ? defaults.heartbeat : toHeartbeat(rawHeartbeat, interfaceName);
  const rawMaxPayload = init.maxPayload;
  const maxPayload = rawMaxPayload === undefined ? defaults.maxPayload : integerAtLeast(rawMaxPayload, 1, 'options.maxPayload', interfaceName);
  const rawParallelConnect = init.parallelConnect;
  const parallelConnect = rawParallelConnect === undefined ? defaults.parallelConnect : Boolean(rawParallelConnect);
  const rawDeflate = init.perMessageDeflate;
  const perMessageDeflate = rawDeflate === undefined ? defaults.perMessageDeflate : toDeflate(rawDeflate, interfaceName);
  const rawProtocols = init.protocols;
  const protocols =
    rawProtocols === undefined
      ? defaults.protocols
      : stream === undefined
        ? toStringOrStringSequence(rawProtocols)
        : toUSVStringSequence(rawProtocols, `Failed to construct '${interfaceName}': options.protocols`);
  const rawProxy = init.proxy;
  const proxy = rawProxy === undefined ? defaults.proxy : toProxy(rawProxy, interfaceName);
  // WebSocketStreamOptions' own member, in its place in the order.
  if (stream !== undefined) stream.signal(init.signal);
  const rawSocketPath = init.socketPath;
  const socketPath = rawSocketPath === undefined ? defaults.socketPath : toDOMString(rawSocketPath);
  const rawTls = init.tls;
  const tls = rawTls === undefined ? defaults.tls : toTls(rawTls, 'options.tls', interfaceName);
  if (socketPath !== null && socketPath === '') throw fail(interfaceName, 'options.socketPath must be a non-empty path.');
  if (socketPath !== null && proxy !== undefined && proxy !== null) {
    throw fail(interfaceName, 'options.proxy and options.socketPath cannot be used together: a Unix socket is dialed directly.');
  }
  return Object.freeze({ protocols, headers, tls, proxy, handshakeTimeout, maxPayload, perMessageDeflate, heartbeat, socketPath, parallelConnect });
}

function positive(value: unknown, name: string, interfaceName: string): number {
  const n = typeof value === 'number' ? value : NaN;
  if (!Number.isFinite(n) || n <= 0) throw fail(interfaceName, `${name} must be a finite number of milliseconds greater than 0; got ${show(value)}.`);
  return n;
}

function integerAtLeast(value: unknown, min: number, name: string, interfaceName: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw fail(interfaceName, `${name} must be an integer of at least ${min}; got ${show(value)}.`);
  }
  return value;
}

function toHeartbeat(value: unknown, interfaceName: string): HeartbeatConfig | null {
  if (value === null || value === false) return null;
  if (!isObject(value)) throw fail(interfaceName, `options.heartbeat must be an object like { interval, timeout }; got ${show(value)}.`);
  const { interval: rawInterval, timeout: rawTimeout } = value as { interval?: unknown; timeout?: unknown };
  const interval = positive(rawInterval, 'options.heartbeat.interval', interfaceName);
  const timeout = rawTimeout === undefined ? interval : positive(rawTimeout, 'options.heartbeat.timeout', interfaceName);
  return Object.freeze({ interval, timeout });
}

function toDeflate(value: unknown, interfaceName: string): DeflateConfig {
  if (value === false) return false;
  if (value === true) return { threshold: 0 };
  if (!isObject(value)) throw fail(interfaceName, `options.perMessageDeflate must be a boolean or an object like { threshold }; got ${show(value)}.`);
  const threshold = (value as { threshold?: unknown }).threshold;
  return Object.freeze({ threshold: threshold === undefined ? 0 : integerAtLeast(threshold, 0, 'options.perMessageDeflate.threshold', interfaceName) });
}

function toTls(value: unknown, name: string, interfaceName: string): TlsConnectionOptions {
  if (!isObject(value) || Array.isArray(value)) throw fail(interfaceName, `${name} must be an object of tls.connect options; got ${show(value)}.`);
  const out: Record<string, unknown> = { ...settings.tls };
  for (const key of TLS_KEYS) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) continue;
    // Verification is off only when asked for in so many words.
    out[key] = key === 'rejectUnauthorized' ? v !== false : v;
  }
  return Object.freeze(out) as TlsConnectionOptions;
}

function toProxy(value: unknown, interfaceName: string): ProxyConfig | null {
  if (value === null) return null;
  let urlValue: unknown = value;
  let headers: readonly (readonly [string, string])[] = [];
  let tls: TlsConnectionOptions = {};
  if (isObject(value) && !(value instanceof URL)) {
    const dict = value as { headers?: unknown; tls?: unknown; url?: unknown };
    if (dict.headers !== undefined) headers = toHeaderList(dict.headers, 'options.proxy.headers', CONNECT_HEADERS, interfaceName);
    if (dict.tls !== undefined) tls = toTls(dict.tls, 'options.proxy.tls', interfaceName);
    urlValue = dict.url;
    if (urlValue === undefined) throw fail(interfaceName, 'options.proxy needs a url, as { url: "http://proxy:8080" }.');
  }
  const text = toDOMString(urlValue);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new DOMException(`Failed to construct '${interfaceName}': options.proxy ${show(text)} is not a valid URL.`, 'SyntaxError');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw fail(interfaceName, `options.proxy must be an http: or https: URL; ${show(url.protocol.slice(0, -1))} is not supported.`);
  }
  return Object.freeze({ url, headers, tls });
}

// Fetch's header value rules: no NUL, CR or LF; leading and trailing HTTP whitespace is removed.
const HTTP_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;
const FORBIDDEN_IN_VALUE = /[\0\r\n]/;

/**
 * A header list: a `Headers`, a record of name to value, or an iterable of [name, value] pairs.
 * Names must be tokens and values free of NUL, CR and LF (Fetch's rules), and no name may be
 * one the request owns. Repeated names are kept in the order given.
 * @see https://fetch.spec.whatwg.org/#headers-class, https://fetch.spec.whatwg.org/#concept-header-value-normalize
 */
function toHeaderList(value: unknown, name: string, owned: ReadonlyMap<string, string>, interfaceName: string): readonly (readonly [string, string])[] {
  if (!isObject(value)) throw fail(interfaceName, `${name} must be a Headers object, a record of names to values, or a list of [name, value] pairs; got ${show(value)}.`);
  const pairs: [string, string][] = [];
  const iterator = (value as { [Symbol.iterator]?: unknown })[Symbol.iterator];
  if (typeof iterator === 'function') {
    // A Headers object iterates its (combined, lower-cased) pairs; so does any list of pairs.
    for (const pair of value as Iterable<unknown>) {
      if (!isObject(pair) || typeof (pair as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function') {
        throw fail(interfaceName, `${name} must list each header as a [name, value] pair; got ${show(pair)}.`);
      }
      const items = [...(pair as Iterable<unknown>)];
      if (items.length !== 2) throw fail(interfaceName, `${name} must list each header as a [name, value] pair of exactly 2 items; got ${items.length}.`);
      pairs.push([toDOMString(items[0]), toDOMString(items[1])]);
    }
  } else {
    for (const key of Reflect.ownKeys(value)) {
      if (typeof key !== 'string' || !Object.prototype.propertyIsEnumerable.call(value, key)) continue;
      pairs.push([key, toDOMString((value as Record<string, unknown>)[key])]);
    }
  }
  const out: (readonly [string, string])[] = [];
  for (const [headerName, rawValue] of pairs) {
    if (!isToken(headerName)) throw fail(interfaceName, `${name}: ${show(headerName)} is not a valid header name (it must be a token).`);
    const reason = owned.get(headerName.toLowerCase());
    if (reason !== undefined) throw fail(interfaceName, `${name}: the ${headerName} header cannot be set: ${reason}.`);
    const headerValue = rawValue.replace(HTTP_WHITESPACE, '');
    if (FORBIDDEN_IN_VALUE.test(headerValue)) throw fail(interfaceName, `${name}: the value of ${headerName} contains a NUL, CR or LF character, which header values cannot hold.`);
    out.push(Object.freeze([headerName, headerValue] as const));
  }
  return Object.freeze(out);
}
