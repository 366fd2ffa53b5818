/**
 * Peer faults after the handshake, tested on the wire: the scripted server sends bad bytes, and
 * the test reads the close code our client sent back (RFC 6455 §7.1.7, §7.4.1) and what the page
 * saw. Also pings, and the closing handshake with its timeout.
 */
import { WebSocket } from '../../lib/ponyfill';
import { settings } from '../../lib/settings';
import { Opcode } from '../../lib/constants';
import { type ServerConnection, TestServer } from '../../lib/server';
import { FAILED, next, type Outcome, outcomeOf, within } from '../helpers/events';

const saved = { ...settings };
let server: TestServer;
afterEach(async () => {
  Object.assign(settings, saved);
  await server?.close();
});

async function connect(options: Parameters<typeof TestServer.start>[0] = {}): Promise<{
  ws: WebSocket;
  conn: ServerConnection;
  outcome: Promise<Outcome>;
}> {
  server = await TestServer.start({ mode: 'script', ...options });
  const ws = new WebSocket(server.url());
  const outcome = outcomeOf(ws);
  const opened = next(ws, 'open');
  const conn = await server.nextConnection();
  await opened;
  return { ws, conn, outcome };
}

const bytes = (...values: number[]): Buffer => Buffer.from(values);
const text = (s: string): Buffer => Buffer.from(s, 'utf8');
const closeBody = (code: number, reason: Uint8Array = Buffer.alloc(0)): Buffer => {
  const body = Buffer.alloc(2 + reason.length);
  body.writeUInt16BE(code, 0);
  body.set(reason, 2);
  return body;
};

/** Each case: what the server sends, and the close code RFC 6455 names for it. */
const faults: [string, number, (conn: ServerConnection) => void][] = [
  ['a frame with RSV1 set (no extension negotiated)', 1002, (c) => c.sendFrame(Opcode.TEXT, text('hi'), { rsv1: true })],
  ['a frame with RSV2 set', 1002, (c) => c.sendRaw(bytes(0x80 | 0x20 | Opcode.TEXT, 0))],
  ['a frame with RSV3 set', 1002, (c) => c.sendRaw(bytes(0x80 | 0x10 | Opcode.BINARY, 0))],
  ['an unknown data opcode 0x3', 1002, (c) => c.sendRaw(bytes(0x83, 0))],
  ['an unknown control opcode 0xB', 1002, (c) => c.sendRaw(bytes(0x8b, 0))],
  ['a fragmented ping (FIN clear)', 1002, (c) => c.sendFrame(Opcode.PING, text('p'), { fin: false })],
  ['a ping with a 126-byte payload', 1002, (c) => c.sendFrame(Opcode.PING, Buffer.alloc(126, 0x61))],
  ['a close frame with a 126-byte payload', 1002, (c) => c.sendFrame(Opcode.CLOSE, closeBody(1000, Buffer.alloc(124, 0x61)))],
  ['a continuation frame without a message to continue', 1002, (c) => c.sendFrame(Opcode.CONTINUATION, text('x'))],
  [
    'a new text frame inside a fragmented message',
    1002,
    (c) => {
      c.sendFrame(Opcode.TEXT, text('a'), { fin: false });
      c.sendFrame(Opcode.TEXT, text('b'));
    },
  ],
  [
    'a new binary frame inside a fragmented message',
    1002,
    (c) => {
      c.sendFrame(Opcode.BINARY, bytes(1), { fin: false });
      c.sendFrame(Opcode.BINARY, bytes(2));
    },
  ],
  ['a masked frame from the server', 1002, (c) => c.sendFrame(Opcode.TEXT, text('hi'), { mask: true })],
  ['a 64-bit length with its most significant bit set', 1002, (c) => c.sendRaw(bytes(0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1))],
  ['a text message that is not UTF-8', 1007, (c) => c.sendFrame(Opcode.TEXT, bytes(0x61, 0xff, 0x62))],
  ['a text message with an overlong encoding', 1007, (c) => c.sendFrame(Opcode.TEXT, bytes(0xc0, 0xaf))],
  ['a text message with a UTF-16 surrogate (CESU-8)', 1007, (c) => c.sendFrame(Opcode.TEXT, bytes(0xed, 0xa0, 0x80))],
  [
    'invalid UTF-8 split across fragments',
    1007,
    (c) => {
      c.sendFrame(Opcode.TEXT, bytes(0x61, 0xe2, 0x82), { fin: false });
      c.sendFrame(Opcode.CONTINUATION, bytes(0x28));
    },
  ],
  [
    'a fragmented text message that ends inside a UTF-8 sequence',
    1007,
    (c) => {
      c.sendFrame(Opcode.TEXT, text('a'), { fin: false });
      c.sendFrame(Opcode.CONTINUATION, bytes(0xe2, 0x82));
    },
  ],
  ['a close reason that is not UTF-8', 1007, (c) => c.sendFrame(Opcode.CLOSE, closeBody(1000, bytes(0x6f, 0xff)))],
  ['a close frame with code 1005 (reserved for reporting)', 1002, (c) => c.sendFrame(Opcode.CLOSE, closeBody(1005))],
  ['a close frame with code 1006 (reserved for reporting)', 1002, (c) => c.sendFrame(Opcode.CLOSE, closeBody(1006))],
  ['a close frame with code 1015 (reserved for reporting)', 1002, (c) => c.sendFrame(Opcode.CLOSE, closeBody(1015))],
  ['a close frame with code 1004 (reserved)', 1002, (c) => c.sendFrame(Opcode.CLOSE, closeBody(1004))],
  ['a close frame with code 999', 1002, (c) => c.sendFrame(Opcode.CLOSE, closeBody(999))],
  ['a close frame with code 0', 1002, (c) => c.sendFrame(Opcode.CLOSE, closeBody(0))],
  ['a close frame with code 2999', 1002, (c) => c.sendFrame(Opcode.CLOSE, closeBody(2999))],
  ['a close frame with code 5000', 1002, (c) => c.sendFrame(Opcode.CLOSE, closeBody(5000))],
  ['a close frame with a 1-byte body', 1002, (c) => c.sendFrame(Opcode.CLOSE, bytes(0x03))],
];

describe('a peer fault fails the connection with the code RFC 6455 names', () => {
  test.each(faults)('%s -> %d on the wire; error, then close 1006 not clean; TCP closed', async (_, code, send) => {
    const { conn, outcome } = await connect();
    send(conn);
    expect((await conn.next('close')).code).toBe(code);
    // The client failed the connection: it received no valid Close frame, so the close code is
    // 1006 (RFC 6455 §7.1.5), and the Standard fires error before close. Browsers do the same.
    expect(await outcome).toEqual({ events: ['open', 'error', 'close'], ...FAILED });
    await within(conn.closed, 5000, 'TCP to close');
  });

  test('a message over settings.maxMessageSize -> 1009', async () => {
    settings.maxMessageSize = 1024;
    const { conn, outcome } = await connect();
    conn.sendBinary(Buffer.alloc(1025));
    expect((await conn.next('close')).code).toBe(1009);
    expect(await outcome).toEqual({ events: ['open', 'error', 'close'], ...FAILED });
    await within(conn.closed, 5000, 'TCP to close');
  });

  test('fragments that add up to more than settings.maxMessageSize -> 1009', async () => {
    settings.maxMessageSize = 1024;
    const { conn, outcome } = await connect();
    conn.sendFrame(Opcode.TEXT, Buffer.alloc(600, 0x61), { fin: false });
    conn.sendFrame(Opcode.CONTINUATION, Buffer.alloc(600, 0x61));
    expect((await conn.next('close')).code).toBe(1009);
    expect(await outcome).toEqual({ events: ['open', 'error', 'close'], ...FAILED });
    await within(conn.closed, 5000, 'TCP to close');
  });

  test('a message of exactly settings.maxMessageSize arrives', async () => {
    settings.maxMessageSize = 1024;
    const { ws, conn } = await connect();
    conn.sendText('x'.repeat(1024));
    const message = await next<MessageEvent>(ws, 'message');
    expect(message.data).toBe('x'.repeat(1024));
  });

  test('messages that arrived before the fault are still delivered, then error and close', async () => {
    const { ws, conn, outcome } = await connect();
    const texts: string[] = [];
    ws.addEventListener('message', (event) => texts.push((event as MessageEvent).data as string));
    conn.sendRaw(Buffer.concat([bytes(0x81, 3), text('one'), bytes(0x81, 3), text('two'), bytes(0x83, 0)]));
    expect((await conn.next('close')).code).toBe(1002);
    expect((await outcome).events).toEqual(['open', 'message', 'message', 'error', 'close']);
    expect(texts).toEqual(['one', 'two']);
  });

  test('a server still writing when the client fails reads our Close and then a FIN, never a reset', async () => {
    // After the fault, 8 MiB more that the client will not read: closing a socket with unread
    // bytes makes the kernel send a reset, and a reset can cost the server our Close frame.
    const { conn, outcome } = await connect();
    const errors: string[] = [];
    conn.socket.on('error', (error: NodeJS.ErrnoException) => errors.push(error.code ?? error.message));
    conn.sendRaw(bytes(0x83, 0));
    for (let i = 0; i < 128; i++) conn.sendBinary(Buffer.alloc(64 * 1024));
    expect((await conn.next('close', 10_000)).code).toBe(1002);
    expect(await outcome).toEqual({ events: ['open', 'error', 'close'], ...FAILED });
    await conn.next('end', 10_000);
    await within(conn.closed, 5000, 'TCP to close');
    expect(errors).toEqual([]);
  });

  test('bytes the server sends after the fault are not delivered', async () => {
    const { conn, outcome } = await connect();
    conn.sendRaw(Buffer.concat([bytes(0x83, 0), bytes(0x81, 2), text('no')]));
    expect((await conn.next('close')).code).toBe(1002);
    expect((await outcome).events).toEqual(['open', 'error', 'close']);
  });
});

describe('pings', () => {
  test.each([
    ['an empty ping', Buffer.alloc(0)],
    ['a ping with text', text('are you there')],
    ['a ping with 125 bytes (the maximum)', Buffer.alloc(125, 7)],
  ])('%s is answered by a pong with the same payload', async (_, payload) => {
    const { conn } = await connect();
    conn.ping(payload);
    expect((await conn.next('pong')).data).toEqual(payload);
  });

  test('a ping between fragments is answered, and the message still arrives whole', async () => {
    const { ws, conn } = await connect();
    conn.sendFrame(Opcode.TEXT, text('hel'), { fin: false });
    conn.ping(text('mid'));
    conn.sendFrame(Opcode.CONTINUATION, text('lo'), { fin: false });
    conn.sendFrame(Opcode.PONG, text('unsolicited'));
    conn.sendFrame(Opcode.CONTINUATION, text(' world'));
    const message = next<MessageEvent>(ws, 'message');
    expect((await conn.next('pong')).data.toString()).toBe('mid');
    expect((await message).data).toBe('hello world');
  });

  test('a UTF-8 character split across fragments is accepted', async () => {
    const { ws, conn } = await connect();
    const euro = text('€'); // e2 82 ac
    conn.sendFrame(Opcode.TEXT, euro.subarray(0, 1), { fin: false });
    conn.sendFrame(Opcode.CONTINUATION, euro.subarray(1, 2), { fin: false });
    conn.sendFrame(Opcode.CONTINUATION, euro.subarray(2));
    const message = await next<MessageEvent>(ws, 'message');
    expect(message.data).toBe('€');
  });
});

describe('closing handshake', () => {
  test('server-initiated close: the client echoes the code, and close reports the server code and reason, clean', async () => {
    const { ws, conn, outcome } = await connect();
    conn.close(4001, 'server says bye');
    expect(await conn.next('close')).toEqual({ type: 'close', code: 4001, reason: '' });
    expect(await outcome).toEqual({ events: ['open', 'close'], code: 4001, reason: 'server says bye', wasClean: true, readyState: WebSocket.CLOSED });
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  test('server-initiated close without a body: the client answers with no body; close reports 1005, clean', async () => {
    const { conn, outcome } = await connect();
    conn.close();
    expect((await conn.next('close')).code).toBe(1005); // 1005: the frame had no body
    expect(await outcome).toEqual({ events: ['open', 'close'], code: 1005, reason: '', wasClean: true, readyState: 3 });
  });

  test('a Close in the middle of a fragmented message: the partial message is dropped, the close is clean', async () => {
    const { conn, outcome } = await connect();
    conn.sendFrame(Opcode.TEXT, text('part'), { fin: false });
    conn.close(1000, 'mid-message');
    expect((await conn.next('close')).code).toBe(1000);
    expect(await outcome).toEqual({ events: ['open', 'close'], code: 1000, reason: 'mid-message', wasClean: true, readyState: 3 });
  });

  test('the close reason is decoded as UTF-8 keeping a leading BOM, up to the 123-byte maximum', async () => {
    const { conn, outcome } = await connect();
    const reason = '\uFEFF' + 'é'.repeat(60); // 3 + 120 = 123 bytes
    expect(Buffer.byteLength(reason)).toBe(123);
    conn.close(4000, reason);
    expect((await outcome).reason).toBe(reason);
  });

  test('client-initiated close answered by a server that keeps TCP open: clean after settings.closeTimeoutMs', async () => {
    settings.closeTimeoutMs = 200;
    const { ws, conn, outcome } = await connect({ answerClose: false, allowHalfOpen: true });
    ws.close(3001, 'mine');
    expect((await conn.next('close')).code).toBe(3001);
    conn.close(3001, 'yours');
    await conn.next('end');
    expect(await outcome).toEqual({ events: ['open', 'close'], code: 3001, reason: 'yours', wasClean: true, readyState: 3 });
  });

  test('the client sends no data frames after answering a Close', async () => {
    const { ws, conn, outcome } = await connect();
    conn.close(1000);
    await conn.next('close');
    ws.send('too late');
    await outcome;
    await within(conn.closed, 5000, 'TCP to close');
    expect(conn.events.pending.filter((e) => e.type === 'message')).toEqual([]);
  });

  test('close timeout: a server that never answers our Close -> TCP closed after settings.closeTimeoutMs; close 1006, not clean, no error', async () => {
    settings.closeTimeoutMs = 200;
    const { ws, conn, outcome } = await connect({ answerClose: false });
    ws.close(1000, 'done');
    expect(await conn.next('close')).toEqual({ type: 'close', code: 1000, reason: 'done' });
    await within(conn.closed, 5000, 'the client to close TCP');
    expect(await outcome).toEqual({ events: ['open', 'close'], code: 1006, reason: '', wasClean: false, readyState: 3 });
  });

  test('a server that sends its Close but never closes TCP -> the client closes TCP after the timeout; clean, with the server code (RFC 6455 §7.1.1 lets the client close once both Close frames are exchanged, §7.1.4 calls that clean; Chromium reports it so too)', async () => {
    settings.closeTimeoutMs = 200;
    const { conn, outcome } = await connect({ answerClose: false, allowHalfOpen: true });
    conn.close(4002, 'kept open');
    expect((await conn.next('close')).code).toBe(4002);
    // Our client half-closes right after its answer; the server keeps its side open, so only
    // the close timer can end the connection (the close event follows the client socket's close).
    await conn.next('end');
    expect(await outcome).toEqual({ events: ['open', 'close'], code: 4002, reason: 'kept open', wasClean: true, readyState: 3 });
    expect(conn.socket.destroyed).toBe(false);
  });

  test('a server that sends its Close and then resets TCP: close has the server code but is not clean (our Close may not have arrived; RFC 6455 §7.1.4, as Chromium)', async () => {
    const { conn, outcome } = await connect();
    conn.close(4003, 'then reset');
    conn.socket.resetAndDestroy();
    expect(await outcome).toEqual({ events: ['open', 'close'], code: 4003, reason: 'then reset', wasClean: false, readyState: 3 });
  });

  test('TCP closed by the server without a Close frame -> close 1006, not clean, and no error event', async () => {
    const { conn, outcome } = await connect();
    conn.destroy();
    expect(await outcome).toEqual({ events: ['open', 'close'], code: 1006, reason: '', wasClean: false, readyState: 3 });
  });

  test('the server closes TCP after our Close without sending its own -> close 1006, not clean', async () => {
    const { ws, conn, outcome } = await connect({ answerClose: false });
    ws.close(3000);
    expect((await conn.next('close')).code).toBe(3000);
    conn.end();
    expect(await outcome).toEqual({ events: ['open', 'close'], code: 1006, reason: '', wasClean: false, readyState: 3 });
  });
});
