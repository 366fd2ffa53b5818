import { createHash } from 'node:crypto';
import { CloseCode, Defaults, EMPTY, MAX_CLOSE_REASON_BYTES, MAX_CONTROL_PAYLOAD, Opcode, ReadyState, WEBSOCKET_GUID } from '../../lib/constants';

test('opcodes are the values of RFC 6455 §5.2 and §11.8', () => {
  expect(Opcode).toEqual({ CONTINUATION: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 });
});

test('ready states are the WebSocket interface constants', () => {
  expect(ReadyState).toEqual({ CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
});

test('close codes are those of RFC 6455 §7.4.1', () => {
  expect(CloseCode).toEqual({
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
  });
});

test('the GUID reproduces the RFC 6455 §1.3 example accept value', () => {
  const accept = createHash('sha1').update('dGhlIHNhbXBsZSBub25jZQ==' + WEBSOCKET_GUID).digest('base64');
  expect(accept).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
});

test('control frame limits: 125 bytes, of which a close reason may use 123', () => {
  expect(MAX_CONTROL_PAYLOAD).toBe(125);
  expect(MAX_CLOSE_REASON_BYTES).toBe(MAX_CONTROL_PAYLOAD - 2);
});

test('default limits are positive whole numbers of bytes', () => {
  expect(Defaults.maxMessageSize).toBe(100 * 1024 * 1024);
  expect(Number.isSafeInteger(Defaults.maxHandshakeHeadSize) && Defaults.maxHandshakeHeadSize > 0).toBe(true);
  expect(EMPTY).toHaveLength(0);
});
