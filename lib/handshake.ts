/**
 * The opening handshake of RFC 6455, both sides, as pure functions over strings and buffers.
 * @see RFC 6455 §4, https://websockets.spec.whatwg.org/#concept-websocket-establish
 */
import { createHash, randomFillSync } from 'node:crypto';
import { Defaults, EMPTY, WEBSOCKET_GUID } from './constants';
import { acceptExtensions, type DeflateParams } from './extensions';
import { isToken } from './validation';

/** The `Sec-WebSocket-Accept` value that answers `key`. @see RFC 6455 §1.3, §4.2.2 */
export function acceptKeyFor(key: string): string {
  return createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
}

// Keys are drawn from a CSPRNG batch, as masks are: one randomBytes call per connection costs an
// allocation and a trip into C++ that a batch of 64 keys shares. Each key's bytes are used once.
const KEY_BATCH = 64 * 16;
const keyBytes = Buffer.allocUnsafeSlow(KEY_BATCH);
let keyOffset = KEY_BATCH;

/** A fresh `Sec-WebSocket-Key`: 16 random bytes, base64-encoded. @see RFC 6455 §4.1 */
export function generateKey(): string {
  if (keyOffset === KEY_BATCH) {
    randomFillSync(keyBytes);
    keyOffset = 0;
  }
  const at = keyOffset;
  keyOffset = at + 16;
  return keyBytes.toString('base64', at, at + 16);
}

/** The parts of a client handshake request. */
export interface ClientRequestOptions {
  /** `host` or `host:port` as it goes in the Host header (URL.host gives exactly this). */
  host: string;
  /** Path and query, starting with `/`. */
  resource: string;
  key: string;
  protocols: readonly string[];
  /** The serialized origin for `Origin`, or null to send none. */
  origin?: string | null;
  /** `User-Agent`; `node` (what Node's own fetch sends) by default. */
  userAgent?: string;
  /** An `Authorization` value (the 401 retry's Basic credentials). */
  authorization?: string;
  /** The `Sec-WebSocket-Extensions` offer, if any. */
  extensions?: string;
  /**
   * Extra header lines, already validated by the caller. `Host`, `Origin`, `User-Agent`,
   * `Authorization` and `Cookie` replace ours, in our header's place; the rest follow ours.
   */
  extraHeaders?: readonly (readonly [string, string])[];
}

/** Our `User-Agent`: what Node's own fetch sends. @see RFC 9110 §10.1.5 */
export const DEFAULT_USER_AGENT = 'node';

// Headers a caller may give in place of ours, by lower-case name.
const REPLACEABLE = new Set(['host', 'origin', 'user-agent', 'authorization', 'cookie']);

/**
 * The bytes of the client's opening handshake request, with the headers in the order Chromium
 * sends them (Host, Connection, Pragma, Cache-Control, User-Agent, Upgrade, Origin, Version,
 * then where Chromium has Accept-Encoding and Accept-Language, which mean nothing here:
 * Authorization and Cookie; then Key, Extensions, Protocol), and the caller's other headers last.
 * @see https://websockets.spec.whatwg.org/#concept-websocket-establish steps 3–10, RFC 6455 §4.1
 */
export function buildClientRequest(options: ClientRequestOptions): string {
  const given = new Map<string, (readonly [string, string])[]>();
  let rest = '';
  for (const header of options.extraHeaders ?? []) {
    const lower = header[0].toLowerCase();
    if (REPLACEABLE.has(lower)) {
      const list = given.get(lower);
      if (list === undefined) given.set(lower, [header]);
      else list.push(header);
    } else {
      rest += `${header[0]}: ${header[1]}\r\n`;
    }
  }
  // One of ours, or the caller's replacement for it (every line of it, in the order given).
  const line = (name: string, ours: string | null | undefined): string => {
    const replacement = given.get(name.toLowerCase());
    if (replacement !== undefined) return replacement.map(([n, v]) => `${n}: ${v}\r\n`).join('');
    return ours === null || ours === undefined ? '' : `${name}: ${ours}\r\n`;
  };
  let head =
    `GET ${options.resource} HTTP/1.1\r\n` +
    line('Host', options.host) +
    'Connection: Upgrade\r\n' +
    'Pragma: no-cache\r\n' +
    'Cache-Control: no-cache\r\n' +
    line('User-Agent', options.userAgent ?? DEFAULT_USER_AGENT) +
    'Upgrade: websocket\r\n' +
    line('Origin', options.origin) +
    'Sec-WebSocket-Version: 13\r\n' +
    line('Authorization', options.authorization) +
    line('Cookie', null) +
    `Sec-WebSocket-Key: ${options.key}\r\n`;
  if (options.extensions) head += `Sec-WebSocket-Extensions: ${options.extensions}\r\n`;
  // Fetch's "combine" joins repeated values with ", ".
  if (options.protocols.length > 0) head += `Sec-WebSocket-Protocol: ${options.protocols.join(', ')}\r\n`;
  return head + rest + '\r\n';
}

/**
 * `Basic base64(user:password)` for a URL's credentials: percent-decoded, then UTF-8, as Fetch
 * and Chromium send them (a username alone gives `user:`).
 * @see https://fetch.spec.whatwg.org/#http-network-or-cache-fetch, RFC 7617 §2
 */
export function basicCredentials(url: URL): string {
  const pair = Buffer.concat([percentDecode(url.username), Buffer.from(':'), percentDecode(url.password)]);
  return `Basic ${pair.toString('base64')}`;
}

/** URL's percent-decode: `%XX` becomes that byte, anything else its UTF-8. @see https://url.spec.whatwg.org/#percent-decode */
function percentDecode(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (!bytes.includes(0x25)) return bytes;
  const out = Buffer.allocUnsafe(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const hex = bytes[i] === 0x25 && i + 2 < bytes.length ? bytes.toString('latin1', i + 1, i + 3) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      out[n++] = parseInt(hex, 16);
      i += 2;
    } else {
      out[n++] = bytes[i];
    }
  }
  return out.subarray(0, n);
}

/** Whether a `WWW-Authenticate` value offers the Basic scheme among its challenges. @see RFC 7235 §4.1 */
export function hasBasicChallenge(value: string | undefined): boolean {
  return value !== undefined && /(?:^|,)[ \t]*basic(?:[ \t]|,|$)/i.test(value);
}

/** An HTTP message head: its first line and its headers (lower-case names, repeats joined by ", "). */
export interface HttpHead {
  startLine: string;
  headers: Map<string, string>;
}

/** What {@link HttpHeadReader.push} reports. */
export type HeadReadResult =
  | { kind: 'more' }
  | { kind: 'head'; head: HttpHead; rest: Buffer }
  | { kind: 'error'; message: string };

const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Collects an HTTP/1.1 message head from chunks of any size, up to a size limit. Bytes after the
 * blank line are returned as `rest`: on a WebSocket they are already the first frames.
 * @see RFC 7230 §3
 */
export class HttpHeadReader {
  #chunks: Buffer[] = [];
  #length = 0;
  readonly #limit: number;

  constructor(limit: number = Defaults.maxHandshakeHeadSize) {
    this.#limit = limit;
  }

  push(chunk: Buffer): HeadReadResult {
    // Where the blank line ends the head, as an offset in the whole stream. Only the new chunk
    // and the 3 bytes before it can hold one, so earlier bytes are never searched or joined again.
    const before = this.#length;
    let end = -1;
    if (before > 0) {
      const tail = this.#tail(3);
      const i = Buffer.concat([tail, chunk.subarray(0, 3)]).indexOf(CRLFCRLF);
      if (i !== -1) end = before - tail.length + i;
    }
    if (end === -1) {
      const i = chunk.indexOf(CRLFCRLF);
      if (i !== -1) end = before + i;
    }
    this.#chunks.push(chunk);
    this.#length += chunk.length;
    if (end === -1) {
      if (this.#length > this.#limit) return this.#error(`response head exceeds ${this.#limit} bytes`);
      return { kind: 'more' };
    }
    if (end + 4 > this.#limit) return this.#error(`response head exceeds ${this.#limit} bytes`);
    // The head is complete: join its chunks once.
    const all = this.#chunks.length === 1 ? chunk : Buffer.concat(this.#chunks, this.#length);
    this.#chunks = [];
    this.#length = 0;
    const head = parseHead(all.toString('latin1', 0, end));
    if (typeof head === 'string') return { kind: 'error', message: head };
    const rest = end + 4 === all.length ? EMPTY : all.subarray(end + 4);
    return { kind: 'head', head, rest };
  }

  /** The last `n` bytes received (fewer if fewer have arrived), possibly from several chunks. */
  #tail(n: number): Buffer {
    const parts: Buffer[] = [];
    let need = n;
    for (let i = this.#chunks.length - 1; i >= 0 && need > 0; i--) {
      const c = this.#chunks[i];
      const take = Math.min(need, c.length);
      parts.unshift(c.subarray(c.length - take));
      need -= take;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  #error(message: string): HeadReadResult {
    this.#chunks = [];
    this.#length = 0;
    return { kind: 'error', message };
  }
}

const OWS_AROUND = /^[ \t]+|[ \t]+$/g;

/** Splits a head into its first line and headers; returns a message on malformed input. */
export function parseHead(text: string): HttpHead | string {
  const lines = text.split('\r\n');
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(':');
    if (colon <= 0) return `malformed header line ${JSON.stringify(line.slice(0, 64))}`;
    const name = line.slice(0, colon);
    if (!isToken(name)) return `malformed header name ${JSON.stringify(name.slice(0, 64))}`;
    const key = name.toLowerCase();
    // RFC 7230 §3.2.4: only SP and HTAB surround a value; String#trim would also eat NBSP, VT and FF.
    const value = line.slice(colon + 1).replace(OWS_AROUND, '');
    const previous = headers.get(key);
    headers.set(key, previous === undefined ? value : `${previous}, ${value}`);
  }
  return { startLine: lines[0], headers };
}

/** Splits a comma-separated header value into trimmed, non-empty elements. */
export function splitList(value: string | undefined): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const part of value.split(',')) {
    const item = part.trim();
    if (item !== '') out.push(item);
  }
  return out;
}

/** What the client learns from a valid handshake response. */
export interface HandshakeOutcome {
  /** The subprotocol in use, or '' for none. */
  protocol: string;
  /** The extensions in use, as the server wrote them, or ''. */
  extensions: string;
  /** The agreed permessage-deflate parameters, or null when it is not in use. */
  deflate: DeflateParams | null;
}

/**
 * Validates the server's response to our handshake. Returns the outcome, or a message saying
 * which rule the response broke.
 * @see RFC 6455 §4.1 (the client's last set of steps), https://websockets.spec.whatwg.org/#concept-websocket-establish step 11
 */
export function validateServerResponse(
  head: HttpHead,
  key: string,
  protocols: readonly string[],
  offeredDeflate = false,
): HandshakeOutcome | string {
  const status = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(head.startLine);
  if (status === null) return `malformed status line ${JSON.stringify(head.startLine.slice(0, 64))}`;
  // WHATWG step 11.1: fail unless the status is 101 (redirects are not followed).
  if (status[1] !== '101') return `expected status 101, got ${status[1]}`;
  const h = head.headers;
  // RFC 6455 §4.1 step 2: Upgrade must be "websocket", in any case.
  const upgrade = h.get('upgrade');
  if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') {
    return `expected "Upgrade: websocket", got ${upgrade === undefined ? 'none' : JSON.stringify(upgrade)}`;
  }
  // Step 3: Connection must contain the token "upgrade", in any case.
  const connection = splitList(h.get('connection')).map((t) => t.toLowerCase());
  if (!connection.includes('upgrade')) return 'expected "Connection" to contain "Upgrade"';
  // Step 4: Sec-WebSocket-Accept must be the hash of our key.
  const accept = h.get('sec-websocket-accept');
  if (accept !== acceptKeyFor(key)) {
    return accept === undefined ? 'missing Sec-WebSocket-Accept' : 'Sec-WebSocket-Accept does not match the key sent';
  }
  // Step 5: no extension may be in use that we did not offer, and what we offered must be
  // accepted by the rules of RFC 7692.
  const extensions = acceptExtensions(h.get('sec-websocket-extensions'), offeredDeflate);
  if (typeof extensions === 'string') return extensions;
  // Step 6: the subprotocol, if any, must be one we offered.
  const protocol = h.get('sec-websocket-protocol');
  if (protocol !== undefined && protocol !== '' && !protocols.includes(protocol)) {
    return `server chose subprotocol ${JSON.stringify(protocol)}, which was not offered`;
  }
  // WHATWG step 11.2: when protocols were offered, the server must pick one.
  if (protocols.length > 0 && (protocol === undefined || protocol === '')) {
    return `server chose none of the offered subprotocols (${protocols.join(', ')})`;
  }
  return { protocol: protocol ?? '', extensions: extensions.extensions, deflate: extensions.deflate };
}

/** A client handshake request as the server sees it. */
export interface ClientHandshake {
  resource: string;
  key: string;
  protocols: string[];
  headers: Map<string, string>;
}

/**
 * Validates a client's handshake request (server side). Returns its parts, or a message saying
 * which rule it broke.
 * @see RFC 6455 §4.2.1
 */
export function validateClientRequest(head: HttpHead): ClientHandshake | string {
  const line = /^GET (\S+) HTTP\/1\.1$/.exec(head.startLine);
  if (line === null) return `expected "GET <resource> HTTP/1.1", got ${JSON.stringify(head.startLine.slice(0, 64))}`;
  const h = head.headers;
  // RFC 6455 §4.2.1 item 2: the request carries a Host header naming the server's authority.
  if ((h.get('host') ?? '') === '') return 'expected a "Host" header';
  if ((h.get('upgrade') ?? '').toLowerCase() !== 'websocket') return 'expected "Upgrade: websocket"';
  if (!splitList(h.get('connection')).some((t) => t.toLowerCase() === 'upgrade')) return 'expected "Connection: Upgrade"';
  if (h.get('sec-websocket-version') !== '13') return 'expected "Sec-WebSocket-Version: 13"';
  const key = h.get('sec-websocket-key') ?? '';
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return 'Sec-WebSocket-Key is not 16 bytes in base64';
  return { resource: line[1], key, protocols: splitList(h.get('sec-websocket-protocol')), headers: h };
}

/** The server's 101 response accepting `key`, optionally with a chosen subprotocol. @see RFC 6455 §4.2.2 */
export function buildServerResponse(key: string, protocol?: string, extraHeaders: readonly [string, string][] = []): string {
  let head =
    'HTTP/1.1 101 Switching Protocols\r\n' +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${acceptKeyFor(key)}\r\n`;
  if (protocol) head += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  for (const [name, value] of extraHeaders) head += `${name}: ${value}\r\n`;
  return head + '\r\n';
}
