/**
 * `ping(ws, data?)` on the wire: the payload the server receives, the round trip, each error, a
 * close before the Pong; and the ping and pong diagnostics channels.
 */
import * as dc from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { ChannelName, type CloseEvent, ping, WebSocket } from '../../lib/ponyfill';
import { Opcode } from '../../lib/constants';
import { encodeCloseBody, encodeFrame } from '../../lib/frame';
import { type ServerConnection, TestServer, type TestServerOptions } from '../../lib/server';
import { next, outcomeOf, type Outcome, within } from '../helpers/events';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function connect(options: TestServerOptions = {}): Promise<{ ws: WebSocket; conn: ServerConnection; outcome: Promise<Outcome> }> {
  server = await TestServer.start({ mode: 'script', ...options });
  const ws = new WebSocket(server.url());
  const outcome = outcomeOf(ws);
  const opened = next(ws, 'open');
  const conn = await server.nextConnection();
  await opened;
  return { ws, conn, outcome };
}

/** Follows a promise without awaiting it, so a test can ask whether it has settled yet. */
function track<T>(promise: Promise<T>): { settled: boolean; value?: T; error?: unknown } {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

/** The rejection of `promise`, bounded; fails if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<DOMException> {
  try {
    await within(promise, 5000, 'the ping to settle');
  } catch (error) {
    return error as DOMException;
  }
  throw new Error('expected the ping to reject, it resolved');
}

/** The name of what `fn` threw; fails if it threw nothing. */
function thrownName(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).name;
  }
  throw new Error('expected an exception, nothing was thrown');
}

/**
 * Sends a text message from the server and waits for its message event: everything the server
 * sent before it, Pongs included, has then been dispatched (each in its task, in order).
 */
async function sync(ws: WebSocket, conn: ServerConnection, tag = 'sync'): Promise<void> {
  const received = next<MessageEvent>(ws, 'message');
  conn.sendText(tag);
  expect((await received).data).toBe(tag);
}

describe('ping()', () => {
  test('sends the payload as the server sees it: empty, UTF-8, and the bytes of each BufferSource', async () => {
    const { ws, conn } = await connect();
    const backing = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]);
    const cases: [string, Parameters<typeof ping>[1], number[]][] = [
      ['nothing', undefined, []],
      ['an empty string', '', []],
      ['text', 'héllo €', [...Buffer.from('héllo €', 'utf8')]],
      ['a lone surrogate (as U+FFFD)', 'a\uD800', [0x61, 0xef, 0xbf, 0xbd]],
      ['an ArrayBuffer', backing.buffer.slice(2, 5), [2, 3, 4]],
      ['a Uint8Array', new Uint8Array([9, 8, 7]), [9, 8, 7]],
      ['a view on part of a buffer', new Uint16Array(backing.buffer, 2, 2), [2, 3, 4, 5]],
      ['a DataView', new DataView(backing.buffer, 6, 2), [6, 7]],
      ['a Buffer', Buffer.from('xyz'), [0x78, 0x79, 0x7a]],
      ['125 bytes, the most a Ping carries', new Uint8Array(125).fill(0x61), new Array(125).fill(0x61)],
    ];
    for (const [what, data, bytes] of cases) {
      const roundTrip = ping(ws, data);
      expect({ what, seen: [...(await conn.next('ping')).data] }).toEqual({ what, seen: bytes });
      const ms = await within(roundTrip, 5000, `the Pong for ${what}`);
      expect(typeof ms).toBe('number');
      expect(ms).toBeGreaterThanOrEqual(0);
    }
  });

  test('the payload is taken at the call: changing the buffer afterwards changes nothing', async () => {
    const { ws, conn } = await connect();
    const data = new Uint8Array([1, 2, 3]);
    const roundTrip = ping(ws, data);
    data.fill(0);
    expect([...(await conn.next('ping')).data]).toEqual([1, 2, 3]);
    await within(roundTrip, 5000, 'the Pong');
  });

  test('resolves with the round trip: not before the Pong, and no less than the time the server held it', async () => {
    const { ws, conn } = await connect({ answerPings: false });
    const start = performance.now();
    const state = track(ping(ws, 'rt'));
    expect((await conn.next('ping')).data.toString()).toBe('rt');
    // Hold the Pong for one more round trip of a message, and check nothing resolved meanwhile.
    ws.send('hold');
    expect(await conn.nextText()).toBe('hold');
    await sync(ws, conn);
    expect(state.settled).toBe(false);
    const held = performance.now() - start;
    conn.pong(Buffer.from('rt'));
    await sync(ws, conn, 'after the pong');
    const elapsed = performance.now() - start;
    expect(state.settled).toBe(true);
    expect(state.error).toBeUndefined();
    expect(state.value).toBeGreaterThanOrEqual(held);
    expect(state.value).toBeLessThanOrEqual(elapsed);
  });

  test('resolves after the message events of frames received before the Pong', async () => {
    const { ws, conn } = await connect({ answerPings: false });
    const seen: string[] = [];
    ws.addEventListener('message', (event) => seen.push(`message ${(event as MessageEvent).data}`));
    const roundTrip = ping(ws, 'p').then(() => seen.push('resolved'));
    await conn.next('ping');
    conn.sendText('one');
    conn.sendText('two');
    conn.pong(Buffer.from('p'));
    await within(roundTrip, 5000, 'the Pong');
    expect(seen).toEqual(['message one', 'message two', 'resolved']);
  });

  test('Pings with one payload resolve in the order sent; a Pong answers only a Ping with its payload', async () => {
    const { ws, conn } = await connect({ answerPings: false });
    const order: string[] = [];
    const sent = [
      ['same', 'first'],
      ['same', 'second'],
      ['other', 'other'],
      ['same', 'third'],
      ['', 'empty'],
    ].map(([payload, label]) => ping(ws, payload).then((ms) => order.push(label) && ms));
    const seen: string[] = [];
    for (let i = 0; i < sent.length; i++) seen.push((await conn.next('ping')).data.toString());
    expect(seen).toEqual(['same', 'same', 'other', 'same', '']);

    conn.pong(Buffer.from('unsolicited')); // answers nothing (RFC 6455 §5.5.3)
    conn.pong(Buffer.from('other'));
    conn.pong(Buffer.from('same'));
    conn.pong(Buffer.from('same'));
    await sync(ws, conn);
    expect(order).toEqual(['other', 'first', 'second']);

    conn.pong();
    conn.pong(Buffer.from('same'));
    await within(Promise.all(sent), 5000, 'every Pong');
    expect(order).toEqual(['other', 'first', 'second', 'empty', 'third']);
  });

  test('a value that is not a WebSocket is a TypeError, thrown', async () => {
    const { ws } = await connect();
    const notSockets: unknown[] = [undefined, null, 42, 'ws://127.0.0.1/', {}, new EventTarget(), WebSocket.prototype, Object.create(WebSocket.prototype), { readyState: 1 }];
    for (const value of notSockets) expect(thrownName(() => ping(value as WebSocket))).toBe('TypeError');
    expect(thrownName(() => (ping as () => unknown)())).toBe('TypeError');
    expect(() => ping({} as WebSocket)).toThrow(/first argument must be a WebSocket; got an object/);
    expect(() => ping(new EventTarget() as WebSocket)).toThrow(/got an EventTarget/);
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  test('data of another type is a TypeError, thrown, and nothing is sent; a SharedArrayBuffer is not a BufferSource', async () => {
    const { ws, conn } = await connect();
    const shared = new SharedArrayBuffer(2);
    const others: unknown[] = [42, 1n, true, null, Symbol('s'), {}, [1, 2], () => 1, new Blob(['x']), new String('x'), shared, new Uint8Array(shared)];
    for (const value of others) {
      expect({ value, name: thrownName(() => ping(ws, value as string)) }).toEqual({ value, name: 'TypeError' });
    }
    expect(() => ping(ws, 42 as unknown as string)).toThrow(/string or a BufferSource.*got number 42/);
    expect(() => ping(ws, shared as unknown as ArrayBuffer)).toThrow(/SharedArrayBuffer is not allowed/);
    // The first Ping the server sees is the valid one that follows.
    const roundTrip = ping(ws, 'ok');
    expect((await conn.next('ping')).data.toString()).toBe('ok');
    await within(roundTrip, 5000, 'the Pong');
  });

  test('a payload over 125 bytes is a SyntaxError DOMException, thrown, and nothing is sent', async () => {
    const { ws, conn } = await connect();
    for (const data of [new Uint8Array(126), 'a'.repeat(126), '€'.repeat(42), new ArrayBuffer(1000)]) {
      let error: unknown;
      try {
        ping(ws, data);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DOMException);
      expect((error as DOMException).name).toBe('SyntaxError');
      expect((error as DOMException).message).toMatch(/payload is \d+ bytes; a Ping carries at most 125/);
    }
    const roundTrip = ping(ws, 'ok');
    expect((await conn.next('ping')).data.toString()).toBe('ok');
    await within(roundTrip, 5000, 'the Pong');
  });

  test('rejects with InvalidStateError while CONNECTING, CLOSING and CLOSED, and sends nothing', async () => {
    server = await TestServer.start({ mode: 'script' });
    const ws = new WebSocket(server.url());
    const outcome = outcomeOf(ws);
    const connecting = rejection(ping(ws, 'early'));
    const conn = await server.nextConnection();
    await next(ws, 'open');
    const error = await connecting;
    expect(error).toBeInstanceOf(DOMException);
    expect(error.name).toBe('InvalidStateError');
    expect(error.message).toMatch(/CONNECTING; wait for the open event/);
    ws.send('first');
    ws.close(1000);
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    const closing = await rejection(ping(ws, 'closing'));
    expect([closing.name, closing.message]).toEqual(['InvalidStateError', expect.stringMatching(/CLOSING/)]);
    await outcome;
    const closed = await rejection(ping(ws));
    expect([closed.name, closed.message]).toEqual(['InvalidStateError', expect.stringMatching(/CLOSED/)]);
    // Argument errors are still thrown, not turned into rejections.
    expect(thrownName(() => ping(ws, 7 as unknown as string))).toBe('TypeError');
    // On the wire: the message and the Close frame, and no Ping at all.
    await conn.closed;
    const events = [await conn.events.next(), await conn.events.next()].concat(conn.events.pending);
    expect(events.map((e) => e.type)).toEqual(['message', 'close', 'end']);
  });

  test('rejects with InvalidStateError once the peer has begun closing, even before readyState says so', async () => {
    const { ws, conn, outcome } = await connect({ answerPings: false });
    let result: { readyState: number; error: Promise<DOMException> } | undefined;
    ws.addEventListener('message', () => {
      // The Close frame came in the same read as this message, so the closing handshake has
      // begun while readyState is still OPEN.
      result ??= { readyState: ws.readyState, error: rejection(ping(ws, 'late')) };
    });
    const [textHead, textBody] = encodeFrame(Opcode.TEXT, Buffer.from('last'));
    const [closeHead, closeBody] = encodeFrame(Opcode.CLOSE, encodeCloseBody(1000));
    conn.sendRaw(Buffer.concat([textHead, textBody, closeHead, closeBody]));
    await outcome;
    expect(result?.readyState).toBe(WebSocket.OPEN);
    const error = await (result as { error: Promise<DOMException> }).error;
    expect([error.name, error.message]).toEqual(['InvalidStateError', expect.stringMatching(/closing handshake has started/)]);
    await conn.closed;
    expect([...conn.events.pending].map((e) => e.type)).not.toContain('ping');
  });

  test.each([
    ['the server closes cleanly', (conn: ServerConnection) => conn.close(1000, 'bye'), 1000],
    ['the server drops TCP', (conn: ServerConnection) => conn.destroy(), 1006],
    ['the page calls close()', (_: ServerConnection, ws: WebSocket) => ws.close(4000), 4000],
  ])('a close before the Pong (%s) rejects every waiting ping with InvalidStateError, in send order, after the close event', async (_, closeIt, code) => {
    const { ws, conn } = await connect({ answerPings: false });
    const log: string[] = [];
    ws.addEventListener('close', (event) => log.push(`close ${(event as CloseEvent).code}`));
    const pings = ['b', 'a', 'b'].map((payload, i) =>
      ping(ws, payload).then(
        () => log.push(`resolved ${i}`),
        (error: DOMException) => log.push(`${error.name} ${i}`),
      ),
    );
    for (let i = 0; i < 3; i++) await conn.next('ping');
    closeIt(conn, ws);
    await within(Promise.all(pings), 5000, 'the pings to settle');
    expect(log).toEqual([`close ${code}`, 'InvalidStateError 0', 'InvalidStateError 1', 'InvalidStateError 2']);
  });

  test('is a function of the entries, not a member: the WebSocket interface stays the Standard\'s', async () => {
    const { ws } = await connect();
    expect(typeof ping).toBe('function');
    expect(ping.length).toBe(1);
    expect('ping' in ws).toBe(false);
    expect(Object.getOwnPropertyNames(WebSocket).includes('ping')).toBe(false);
    const index = await import('../../lib/index');
    expect(index.ping).toBe(ping);
  });
});

describe('Diagnostics', () => {
  let published: { channel: 'ping' | 'pong'; message: Record<string, unknown> }[] = [];
  const onPing = (message: unknown): number => published.push({ channel: 'ping', message: message as Record<string, unknown> });
  const onPong = (message: unknown): number => published.push({ channel: 'pong', message: message as Record<string, unknown> });
  beforeEach(() => {
    published = [];
    dc.subscribe(ChannelName.ping, onPing);
    dc.subscribe(ChannelName.pong, onPong);
  });
  afterEach(() => {
    dc.unsubscribe(ChannelName.ping, onPing);
    dc.unsubscribe(ChannelName.pong, onPong);
  });

  test('polyfill:websocket:ping publishes every Ping received, with its payload', async () => {
    const { ws, conn } = await connect();
    conn.ping(Buffer.from('p1'));
    conn.ping();
    // The client answers each with a Pong carrying its payload.
    expect((await conn.next('pong')).data.toString()).toBe('p1');
    expect((await conn.next('pong')).data.length).toBe(0);
    const about = published.filter((p) => p.message.websocket === ws);
    expect(about).toEqual([
      { channel: 'ping', message: { websocket: ws, url: ws.url, data: Buffer.from('p1') } },
      { channel: 'ping', message: { websocket: ws, url: ws.url, data: Buffer.alloc(0) } },
    ]);
    expect(Buffer.isBuffer(about[0].message.data)).toBe(true);
  });

  test('polyfill:websocket:pong publishes every Pong received, answering a ping() or unsolicited', async () => {
    const { ws, conn } = await connect();
    await within(ping(ws, 'c1'), 5000, 'the Pong');
    conn.pong(Buffer.from('unsolicited'));
    await sync(ws, conn);
    expect(published.filter((p) => p.message.websocket === ws)).toEqual([
      { channel: 'pong', message: { websocket: ws, url: ws.url, data: Buffer.from('c1') } },
      { channel: 'pong', message: { websocket: ws, url: ws.url, data: Buffer.from('unsolicited') } },
    ]);
  });

  test('ChannelName names both channels', () => {
    expect(ChannelName.ping).toBe('polyfill:websocket:ping');
    expect(ChannelName.pong).toBe('polyfill:websocket:pong');
  });
});
