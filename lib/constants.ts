/**
 * Wire-level numbers of RFC 6455 and the defaults this package chooses for them.
 * @see RFC 6455 §5.2, §7.4.1, §11.8
 */

/** Frame opcodes. @see RFC 6455 §5.2 */
export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;
/** One of the opcodes defined by RFC 6455. */
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** The values of `WebSocket.readyState`. @see https://websockets.spec.whatwg.org/#dom-websocket-connecting */
export const ReadyState = {
  CONNECTING: 0,
  OPEN: 1,
  CLOSING: 2,
  CLOSED: 3,
} as const;
/** A `readyState` value. */
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/** Close codes this package sends or reports. @see RFC 6455 §7.4.1 */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  NO_STATUS_RECEIVED: 1005,
  ABNORMAL_CLOSURE: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
} as const;

/** The GUID appended to `Sec-WebSocket-Key` before hashing. @see RFC 6455 §1.3 */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Longest payload a control frame may carry. @see RFC 6455 §5.5 */
export const MAX_CONTROL_PAYLOAD = 125;

/** Longest close reason that fits a control frame after the 2-byte code. @see RFC 6455 §5.5.1 */
export const MAX_CLOSE_REASON_BYTES = 123;

/** Default limits; each can be overridden where the engine is constructed. */
export const Defaults = {
  /**
   * Largest message accepted before failing with 1009. ws uses the same 100 MiB; browsers have no
   * documented cap, but an unbounded default lets any server exhaust the process's memory.
   */
  maxMessageSize: 100 * 1024 * 1024,
  /** Largest HTTP response head (status line and headers) read during the opening handshake. */
  maxHandshakeHeadSize: 16 * 1024,
} as const;

/** An empty buffer shared by every zero-length payload. */
export const EMPTY = Buffer.alloc(0);
