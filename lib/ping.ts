/**
 * `ping(ws, data?)`: sends a Ping on an open WebSocket and resolves with the round trip when its
 * Pong arrives. A function rather than a method, so that the WebSocket interface stays exactly
 * the Standard's.
 * @see RFC 6455 §5.5.2, §5.5.3
 */
import { EMPTY, MAX_CONTROL_PAYLOAD, ReadyState } from './constants';
import { toBufferSource } from './webidl';
import { openConnectionOf, WebSocket } from './websocket';

const STATE_NAMES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'] as const;
// The original getter, for the error message: a page that redefines `readyState` changes nothing.
const getReadyState = (Object.getOwnPropertyDescriptor(WebSocket.prototype, 'readyState') as PropertyDescriptor).get as (
  this: WebSocket,
) => ReadyState;

/**
 * Sends a Ping carrying `data` (a string as UTF-8, or a BufferSource; empty by default) and
 * resolves with the round trip in ms, from this call until the Pong with the same payload has
 * been received. Pings with one payload resolve in the order they were sent. Throws a TypeError
 * for a `ws` that is not a WebSocket or `data` of another type, and a `SyntaxError` DOMException
 * for a payload over 125 bytes; rejects with an `InvalidStateError` DOMException when the socket
 * is not OPEN, or closes before the Pong.
 * @see RFC 6455 §5.5.2
 */
export function ping(ws: WebSocket, data: string | ArrayBuffer | ArrayBufferView = ''): Promise<number> {
  // (`data` has a default rather than `?`, so that ping.length is 1: only the required
  // argument counts, as in WebIDL.)
  // 1. The brand check, and the state as of this call.
  const connection = openConnectionOf(ws);
  if (connection === undefined) throw new TypeError(`ping(): the first argument must be a WebSocket; got ${describe(ws)}.`);
  // 2. The payload: at most 125 bytes, as every control frame's (RFC 6455 §5.5).
  const payload = toPayload(data);
  if (payload.length > MAX_CONTROL_PAYLOAD) {
    throw new DOMException(`ping(): the payload is ${payload.length} bytes; a Ping carries at most ${MAX_CONTROL_PAYLOAD}.`, 'SyntaxError');
  }
  // 3. Only an OPEN socket sends; its Pong may not come once the closing handshake has begun.
  if (connection === null) return Promise.reject(notOpen(ws));
  return new Promise<number>((resolve, reject) => {
    const sent = connection.ping(payload, (roundTripMs) => {
      // Settled in a task of its own, queued as the page's events are: messages received before
      // the Pong are dispatched first, and the close event before a rejection.
      setImmediate(settle, resolve, reject, roundTripMs);
    });
    if (!sent) reject(new DOMException('ping(): the closing handshake has started; no Pong would answer.', 'InvalidStateError'));
  });
}

function settle(resolve: (value: number) => void, reject: (reason: unknown) => void, roundTripMs: number | null): void {
  if (roundTripMs !== null) resolve(roundTripMs);
  else reject(new DOMException('ping(): the WebSocket closed before the Pong arrived.', 'InvalidStateError'));
}

/** `data` as a fresh buffer of its bytes (taken now: the caller may change its buffer later). */
function toPayload(data: unknown): Buffer {
  if (data === '') return EMPTY;
  // Buffer.from replaces lone surrogates with U+FFFD, the USVString conversion.
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  const bytes = toBufferSource(data, 'ping()');
  if (bytes === undefined) {
    throw new TypeError(`ping(): data must be a string or a BufferSource (an ArrayBuffer, a typed array or a DataView); got ${describe(data)}.`);
  }
  return Buffer.from(bytes);
}

function notOpen(ws: WebSocket): DOMException {
  const state = STATE_NAMES[getReadyState.call(ws)];
  const advice = state === 'CONNECTING' ? 'wait for the open event' : 'a Ping can only be sent while it is OPEN';
  return new DOMException(`ping(): the WebSocket is ${state}; ${advice}.`, 'InvalidStateError');
}

/** Names a value's type for an error message. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return 'a string';
  if (typeof value !== 'object') return `${typeof value} ${String(value)}`;
  const ctor = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor;
  const name = typeof ctor?.name === 'string' ? ctor.name : '';
  if (name === '' || name === 'Object') return 'an object';
  return `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`;
}
