/**
 * WebSocketStream and WebSocketError, against the TestServer on loopback: the constructor's
 * errors, `opened` and `closed` for every way a connection ends, messages both ways, every way of
 * closing with what the server receives, WebSocketError's validation, the WebIDL shapes,
 * backpressure both ways proven on the wire, workers, and the diagnostics channels.
 * @see https://whatpr.org/websockets/48.html#the-websocketstream-interface
 */
import * as dc from 'node:diagnostics_channel';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import type * as net from 'node:net';
import * as path from 'node:path';
import * as types from 'node:util/types';
import { Worker } from 'node:worker_threads';
import { AbortController as ShapedAbortController } from 'abort-controller';
import { Opcode } from '../../lib/constants';
import { encodeFrame } from '../../lib/frame';
import { buildServerResponse } from '../../lib/handshake';
import { ChannelName, WebSocketError, WebSocketStream } from '../../lib/ponyfill';
import { TestServer, type ServerConnection } from '../../lib/server';
import { domExceptionName, nextTask, within } from '../helpers/events';
import { fixture } from '../fixtures/lifecycle/child';

let server: TestServer;
const streams: WebSocketStream[] = [];

afterEach(async () => {
  // Streams a test left open must not keep the server (or jest) waiting.
  for (const wss of streams.splice(0)) wss.close();
  await server?.close();
});

/** A WebSocketStream that afterEach closes if the test did not. */
function connect(url: string | URL, options?: ConstructorParameters<typeof WebSocketStream>[1]): WebSocketStream {
  const wss = options === undefined ? new WebSocketStream(url) : new WebSocketStream(url, options);
  streams.push(wss);
  return wss;
}

/** Resolves with the settled state of `promise` as a value: `{ value }` or `{ error }`, bounded. */
async function settle<T>(promise: Promise<T>, what: string, timeoutMs = 5000): Promise<{ value?: T; error?: unknown }> {
  return within(
    promise.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
    timeoutMs,
    what,
  );
}

/** The rejection reason of `promise`; fails if it fulfils. */
async function rejection(promise: Promise<unknown>, what: string): Promise<unknown> {
  const outcome = await settle(promise, what);
  if (!('error' in outcome)) throw new Error(`${what} fulfilled with ${JSON.stringify(outcome.value)}; expected a rejection`);
  return outcome.error;
}

/** Resolves after `n` turns of the event loop (each with a poll phase, where sockets are read and written). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await nextTask();
}

/**
 * Resolves once `probe()` has not changed for `quiet` turns of the event loop in a row. Client
 * and server share this loop, so a socket that is still being read shows progress every turn.
 */
async function untilStalled(probe: () => number, quiet = 500, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = probe();
  let still = 0;
  while (still < quiet) {
    if (Date.now() > deadline) throw new Error(`still moving after ${timeoutMs} ms (last value ${last})`);
    await nextTask();
    const now = probe();
    still = now === last ? still + 1 : 0;
    last = now;
  }
  return last;
}

/** The most the kernel can buffer on one loopback TCP connection: receive plus send buffer maxima. */
function kernelBufferBound(): number {
  const max = (file: string): number => {
    try {
      return Number(readFileSync(file, 'utf8').trim().split(/\s+/)[2]);
    } catch {
      return 32 * 1024 * 1024;
    }
  };
  return max('/proc/sys/net/ipv4/tcp_rmem') + max('/proc/sys/net/ipv4/tcp_wmem');
}

const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------

describe('constructor', () => {
  beforeEach(async () => {
    server = await TestServer.start();
  });

  test('opens: url is serialized (http: becomes ws:), opened resolves with both streams, protocol and extensions', async () => {
    const wss = connect(`http://127.0.0.1:${server.port}/chat?room=1`, { protocols: ['b', 'a'] });
    expect(wss.url).toBe(`ws://127.0.0.1:${server.port}/chat?room=1`);
    const info = await within(wss.opened, 5000, 'opened');
    expect(Object.keys(info)).toEqual(['extensions', 'protocol', 'readable', 'writable']);
    expect(info.protocol).toBe('b');
    expect(info.extensions).toBe('');
    expect(info.readable).toBeInstanceOf(ReadableStream);
    expect(info.writable).toBeInstanceOf(WritableStream);
    expect(server.requests[0].resource).toBe('/chat?room=1');
    expect(server.requests[0].protocols).toEqual(['b', 'a']);
    // The same promise every time.
    expect(wss.opened).toBe(wss.opened);
    expect(wss.closed).toBe(wss.closed);
  });

  test('accepts a URL object, null options (an empty dictionary) and any iterable of protocols', async () => {
    await within(connect(new URL(server.url('/u'))).opened, 5000, 'opened (URL)');
    await within(connect(server.url(), null).opened, 5000, 'opened (null options)');
    const info = await within(connect(server.url(), { protocols: new Set(['x']) }).opened, 5000, 'opened (Set)');
    expect(info.protocol).toBe('x');
  });

  test('URL errors are the SyntaxErrors WebSocket throws', () => {
    expect(domExceptionName(() => new WebSocketStream('not a url'))).toBe('SyntaxError');
    expect(domExceptionName(() => new WebSocketStream('/relative'))).toBe('SyntaxError');
    expect(domExceptionName(() => new WebSocketStream('ftp://127.0.0.1/'))).toBe('SyntaxError');
    expect(domExceptionName(() => new WebSocketStream('ws://127.0.0.1/#frag'))).toBe('SyntaxError');
    expect(domExceptionName(() => new WebSocketStream('ws://127.0.0.1/#'))).toBe('SyntaxError');
    try {
      new WebSocketStream('ftp://127.0.0.1/');
    } catch (error) {
      expect((error as Error).message).toContain("Failed to construct 'WebSocketStream'");
    }
  });

  test('protocols: duplicates and non-tokens are SyntaxErrors; a non-sequence is a TypeError', () => {
    expect(domExceptionName(() => new WebSocketStream(server.url(), { protocols: ['a', 'a'] }))).toBe('SyntaxError');
    expect(domExceptionName(() => new WebSocketStream(server.url(), { protocols: ['a b'] }))).toBe('SyntaxError');
    expect(domExceptionName(() => new WebSocketStream(server.url(), { protocols: [''] }))).toBe('SyntaxError');
    expect(() => new WebSocketStream(server.url(), { protocols: 'chat' as never })).toThrow(expect.objectContaining({ name: 'TypeError' }));
    expect(() => new WebSocketStream(server.url(), { protocols: 42 as never })).toThrow(expect.objectContaining({ name: 'TypeError' }));
  });

  test('WebIDL conversions: missing url, a Symbol url, non-object options and a signal that is not one are TypeErrors', () => {
    expect(() => new (WebSocketStream as unknown as new () => unknown)()).toThrow(expect.objectContaining({ name: 'TypeError' }));
    expect(() => new WebSocketStream(Symbol('u') as never)).toThrow(expect.objectContaining({ name: 'TypeError' }));
    expect(() => new WebSocketStream(server.url(), 42 as never)).toThrow(expect.objectContaining({ name: 'TypeError' }));
    expect(() => new WebSocketStream(server.url(), { signal: {} as never })).toThrow(expect.objectContaining({ name: 'TypeError' }));
    expect(() => new WebSocketStream(server.url(), { signal: null as never })).toThrow(expect.objectContaining({ name: 'TypeError' }));
    // Errors leave nothing behind: no request reached the server.
    expect(server.requests).toHaveLength(0);
  });

  test("WebSocketInit's Node keys mean what they mean for WebSocket: headers reach the server, bad ones throw first", async () => {
    const wss = connect(server.url(), { headers: { 'X-Api-Key': 'k1', 'User-Agent': 'stream/1' }, protocols: ['p'], parallelConnect: true });
    await within(wss.opened, 5000, 'opened');
    expect(server.requests[0].headers.get('x-api-key')).toBe('k1');
    expect(server.requests[0].headers.get('user-agent')).toBe('stream/1');
    expect(() => new WebSocketStream(server.url(), { headers: { 'Sec-WebSocket-Protocol': 'x' } })).toThrow(/use the protocols option/);
    expect(() => new WebSocketStream(server.url(), { handshakeTimeout: 0 })).toThrow(expect.objectContaining({ name: 'TypeError' }));
    expect(() => new WebSocketStream(server.url(), { dispatcher: {} } as never)).toThrow(/options\.proxy/);
    expect(server.requests).toHaveLength(1);
  });

});

// ---------------------------------------------------------------------------------------------

describe('opened and closed', () => {
  test('maxPayload: a message over it fails the stream, and the server receives 1009', async () => {
    server = await TestServer.start({ mode: 'script' });
    const wss = connect(server.url(), { maxPayload: 4 });
    await within(wss.opened, 5000, 'opened');
    const conn = await server.nextConnection();
    conn.sendBinary(Buffer.from('12345'));
    const error = await rejection(wss.closed, 'closed');
    expect(error).toMatchObject({ name: 'WebSocketError', closeCode: 1006 });
    expect(await conn.next('close')).toMatchObject({ code: 1009 });
  });
  test('a clean close started by the client: closed resolves with the code and reason the server echoed', async () => {
    server = await TestServer.start({ mode: 'script' });
    const wss = connect(server.url());
    const { readable } = await within(wss.opened, 5000, 'opened');
    const conn = await server.nextConnection();
    wss.close({ closeCode: 4000, reason: 'client done' });
    expect(await conn.next('close')).toMatchObject({ code: 4000, reason: 'client done' });
    expect(await within(wss.closed, 5000, 'closed')).toEqual({ closeCode: 4000, reason: 'client done' });
    expect(await readable.getReader().read()).toEqual({ value: undefined, done: true });
  });

  test('a clean close started by the server: closed resolves; the readable ends; the writable is errored with an InvalidStateError', async () => {
    server = await TestServer.start({ mode: 'script' });
    const wss = connect(server.url());
    const { readable, writable } = await within(wss.opened, 5000, 'opened');
    const conn = await server.nextConnection();
    conn.close(4001, 'server done');
    expect(await within(wss.closed, 5000, 'closed')).toEqual({ closeCode: 4001, reason: 'server done' });
    expect(await conn.next('close')).toMatchObject({ code: 4001 }); // our answer echoes the code
    expect(await readable.getReader().read()).toEqual({ value: undefined, done: true });
    const error = await rejection(writable.getWriter().write('late'), 'a write after close');
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe('InvalidStateError');
  });

  test('a Close frame without a code is 1005 in closed', async () => {
    server = await TestServer.start({ mode: 'script' });
    const wss = connect(server.url());
    await within(wss.opened, 5000, 'opened');
    (await server.nextConnection()).close();
    expect(await within(wss.closed, 5000, 'closed')).toEqual({ closeCode: 1005, reason: '' });
  });

  test('a TCP loss rejects closed with a WebSocketError 1006, and errors both streams with it', async () => {
    server = await TestServer.start({ mode: 'script' });
    const wss = connect(server.url());
    const { readable, writable } = await within(wss.opened, 5000, 'opened');
    const reader = readable.getReader();
    const pendingRead = reader.read();
    (await server.nextConnection()).destroy();
    const error = await rejection(wss.closed, 'closed');
    expect(error).toBeInstanceOf(WebSocketError);
    expect(error).toBeInstanceOf(DOMException);
    expect(error).toMatchObject({ name: 'WebSocketError', closeCode: 1006, reason: '' });
    expect(await rejection(pendingRead, 'the pending read')).toBe(error);
    expect(await rejection(writable.getWriter().write('x'), 'a write')).toBe(error);
  });

  test.each([
    ['the server refuses the handshake (400)', { respond: () => 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n' }],
    ['the server selects a subprotocol that was not offered', { selectProtocol: () => 'other' }],
  ])('a failed handshake (%s) rejects opened with a WebSocketError and closed with one of code 1006', async (_name, options) => {
    server = await TestServer.start(options);
    const wss = connect(server.url());
    const opened = await rejection(wss.opened, 'opened');
    expect(opened).toBeInstanceOf(WebSocketError);
    expect(opened).toMatchObject({ name: 'WebSocketError', closeCode: null, reason: '' });
    const closed = await rejection(wss.closed, 'closed');
    expect(closed).toMatchObject({ name: 'WebSocketError', closeCode: 1006, reason: '' });
  });

  test('a refused TCP connection fails the same way, and a failure detail goes to the diagnostics channel only', async () => {
    server = await TestServer.start();
    const port = server.port;
    await server.close();
    const fails: { reason: string; websocket: unknown }[] = [];
    const onFail = (message: unknown): void => void fails.push(message as { reason: string; websocket: unknown });
    dc.subscribe(ChannelName.fail, onFail);
    try {
      const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`);
      expect(await rejection(wss.opened, 'opened')).toMatchObject({ name: 'WebSocketError', closeCode: null });
      expect(await rejection(wss.closed, 'closed')).toMatchObject({ closeCode: 1006 });
      expect(fails.some((f) => f.websocket === wss && /ECONNREFUSED/.test(f.reason))).toBe(true);
    } finally {
      dc.unsubscribe(ChannelName.fail, onFail);
    }
  });

  test('close() while connecting fails the handshake: opened and closed reject with WebSocketErrors, and TCP closes', async () => {
    let socket!: net.Socket;
    let asked!: () => void;
    const requested = new Promise<void>((resolve) => (asked = resolve));
    server = await TestServer.start({
      respond: (_request, _head, s) => {
        socket = s;
        asked();
        return null; // never answer
      },
    });
    const wss = connect(server.url());
    await within(requested, 5000, 'the handshake request');
    wss.close({ closeCode: 4000, reason: 'ignored while connecting' });
    expect(await rejection(wss.opened, 'opened')).toMatchObject({ name: 'WebSocketError', closeCode: null });
    expect(await rejection(wss.closed, 'closed')).toMatchObject({ name: 'WebSocketError', closeCode: 1006 });
    await within(once(socket, 'close'), 5000, 'the server socket to close');
  });

  test('messages that arrive in the same read as the 101 are delivered', async () => {
    server = await TestServer.start({
      respond: (request, _head, socket) => {
        const [head, body] = encodeFrame(Opcode.TEXT, Buffer.from('early'));
        socket.write(Buffer.concat([Buffer.from(buildServerResponse(request.key), 'latin1'), head, body]));
        return null;
      },
    });
    const wss = connect(server.url());
    const { readable } = await within(wss.opened, 5000, 'opened');
    expect(await readable.getReader().read()).toEqual({ value: 'early', done: false });
  });

  test('messages sent before the server closes are all readable after closed has resolved', async () => {
    server = await TestServer.start({ mode: 'script' });
    const wss = connect(server.url());
    const { readable } = await within(wss.opened, 5000, 'opened');
    const conn = await server.nextConnection();
    // One write: three messages and the Close frame arrive in one read.
    const frames = ['one', 'two', 'three'].flatMap((text) => encodeFrame(Opcode.TEXT, Buffer.from(text)));
    const [closeHead, closeBody] = encodeFrame(Opcode.CLOSE, Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65]));
    conn.sendRaw(Buffer.concat([...frames, closeHead, closeBody]));
    expect(await within(wss.closed, 5000, 'closed')).toEqual({ closeCode: 1000, reason: 'bye' });
    const read: string[] = [];
    for await (const chunk of readable) read.push(chunk as string);
    expect(read).toEqual(['one', 'two', 'three']);
  });
});

// ---------------------------------------------------------------------------------------------

describe('signal', () => {
  test.each([
    ['a native AbortController', () => new AbortController()],
    ['the abort-controller package', () => new ShapedAbortController()],
  ])('aborted before the constructor (%s): opened and closed reject with the abort reason, and nothing connects', async (_name, make) => {
    server = await TestServer.start();
    const controller = make();
    controller.abort();
    const wss = connect(server.url(), { signal: controller.signal as unknown as AbortSignal });
    const opened = await rejection(wss.opened, 'opened');
    expect(opened).toBeInstanceOf(DOMException);
    expect((opened as DOMException).name).toBe('AbortError');
    if ('reason' in controller.signal) expect(opened).toBe(controller.signal.reason);
    expect(await rejection(wss.closed, 'closed')).toBe(opened);
    // No connection was made: an echo on a second socket to the same server is its first request.
    await within(connect(server.url()).opened, 5000, 'a second stream to open');
    expect(server.requests).toHaveLength(1);
  });

  test.each([
    ['a native AbortController', () => new AbortController(), true],
    ['the abort-controller package', () => new ShapedAbortController(), false],
  ])('aborted during the handshake (%s): both promises reject with the reason and the connection is failed', async (_name, make, hasReason) => {
    let socket!: net.Socket;
    let asked!: () => void;
    const requested = new Promise<void>((resolve) => (asked = resolve));
    server = await TestServer.start({
      respond: (_request, _head, s) => {
        socket = s;
        asked();
        return null;
      },
    });
    const controller = make();
    const wss = connect(server.url(), { signal: controller.signal as unknown as AbortSignal });
    await within(requested, 5000, 'the handshake request');
    const reason = new Error('user gave up');
    if (hasReason) (controller as AbortController).abort(reason);
    else controller.abort();
    const opened = await rejection(wss.opened, 'opened');
    if (hasReason) expect(opened).toBe(reason);
    else expect(opened).toMatchObject({ name: 'AbortError' }); // a signal without `reason`: DOM's default
    expect(await rejection(wss.closed, 'closed')).toBe(opened);
    await within(once(socket, 'close'), 5000, 'the server socket to close');
  });

  test('aborted after open: nothing happens, and the connection works and closes cleanly', async () => {
    server = await TestServer.start({ mode: 'echo' });
    const controller = new ShapedAbortController();
    const wss = connect(server.url(), { signal: controller.signal as unknown as AbortSignal });
    const { readable, writable } = await within(wss.opened, 5000, 'opened');
    controller.abort();
    await nextTask();
    await writable.getWriter().write('still here');
    expect(await readable.getReader().read()).toEqual({ value: 'still here', done: false });
    wss.close();
    expect(await within(wss.closed, 5000, 'closed')).toEqual({ closeCode: 1005, reason: '' });
  });
});

// ---------------------------------------------------------------------------------------------

describe('messages', () => {
  test('text and binary both ways: strings, BufferSources as binary, other values as their USVString', async () => {
    server = await TestServer.start({ mode: 'script' });
    const wss = connect(server.url());
    const { readable, writable } = await within(wss.opened, 5000, 'opened');
    const conn = await server.nextConnection();
    const writer = writable.getWriter();
    const bytes = new Uint8Array([1, 2, 3, 4, 5]);
    await writer.write('héllo');
    await writer.write(bytes);
    await writer.write(bytes.buffer);
    await writer.write(new DataView(bytes.buffer, 1, 2));
    await writer.write(new Uint16Array([0x0201]));
    await writer.write(new ArrayBuffer(0));
    await writer.write(42);
    await writer.write({ toString: () => 'object' });
    await writer.write('lone \uD800 surrogate');
    await writer.write(new Blob(['not a BufferSource']));
    const received = [];
    for (let i = 0; i < 10; i++) {
      const m = await conn.next('message');
      received.push([m.isText, m.isText ? m.data.toString('utf8') : [...m.data]]);
    }
    expect(received).toEqual([
      [true, 'héllo'],
      [false, [1, 2, 3, 4, 5]],
      [false, [1, 2, 3, 4, 5]],
      [false, [2, 3]],
      [false, [1, 2]],
      [false, []],
      [true, '42'],
      [true, 'object'],
      [true, 'lone \uFFFD surrogate'],
      [true, '[object Blob]'],
    ]);

    conn.sendText('from the server');
    conn.sendBinary(Buffer.from([9, 8, 7]));
    conn.sendBinary(Buffer.alloc(0));
    conn.sendText('');
    const reader = readable.getReader();
    expect(await reader.read()).toEqual({ value: 'from the server', done: false });
    const binary = (await reader.read()).value as Uint8Array;
    expect(Object.prototype.toString.call(binary)).toBe('[object Uint8Array]');
    expect(Buffer.isBuffer(binary)).toBe(false);
    expect([...binary]).toEqual([9, 8, 7]);
    expect(types.isUint8Array((await reader.read()).value)).toBe(true);
    expect(await reader.read()).toEqual({ value: '', done: false });
  });

  test('a chunk is copied when written: changing it after write() does not change the message', async () => {
    server = await TestServer.start({ mode: 'script' });
    const wss = connect(server.url());
    const { writable } = await within(wss.opened, 5000, 'opened');
    const conn = await server.nextConnection();
    const writer = writable.getWriter();
    const chunk = new Uint8Array([1, 1, 1]);
    const written = writer.write(chunk);
    chunk.fill(2);
    await written;
    expect([...(await conn.nextBinary())]).toEqual([1, 1, 1]);
  });

  test('received messages do not share memory: several in one read, and one fragmented across reads', async () => {
    server = await TestServer.start({ mode: 'script' });
    const wss = connect(server.url());
    const { readable } = await within(wss.opened, 5000, 'opened');
    const conn = await server.nextConnection();
    conn.sendRaw(Buffer.concat([...encodeFrame(Opcode.BINARY, Buffer.from([1, 2])), ...encodeFrame(Opcode.BINARY, Buffer.from([3, 4]))]));
    const reader = readable.getReader();
    const first = (await reader.read()).value as Uint8Array;
    first.fill(0);
    expect([...((await reader.read()).value as Uint8Array)]).toEqual([3, 4]);
    expect(first.buffer.byteLength).toBe(2); // its own buffer, not the socket's chunk
    conn.sendFrame(Opcode.TEXT, Buffer.from('frag'), { fin: false });
    await nextTask();
    conn.sendFrame(Opcode.CONTINUATION, Buffer.from('mented'));
    expect(await reader.read()).toEqual({ value: 'fragmented', done: false });
  });

  test('a write that cannot convert its chunk rejects, and errors the writable (the connection stays open)', async () => {
    server = await TestServer.start({ mode: 'echo' });
    const wss = connect(server.url());
    const { writable } = await within(wss.opened, 5000, 'opened');
    const writer = writable.getWriter();
    const error = await rejection(writer.write(Symbol('no') as never), 'a write of a Symbol');
    expect((error as Error).name).toBe('TypeError');
    expect(await rejection(writer.write('after'), 'a write after the failed one')).toBe(error);
    wss.close();
    expect(await within(wss.closed, 5000, 'closed')).toEqual({ closeCode: 1005, reason: '' });
  });

  test('for await over the readable, as the README shows', async () => {
    server = await TestServer.start({ mode: 'echo' });
    const wss = connect(server.url());
    const { readable, writable } = await wss.opened;
    const writer = writable.getWriter();
    for (const text of ['a', 'b', 'c']) writer.write(text);
    const seen: unknown[] = [];
    for await (const message of readable) {
      seen.push(message);
      if (seen.length === 3) break;
    }
    expect(seen).toEqual(['a', 'b', 'c']);
    // Leaving the loop cancelled the readable, which closed the connection (no code).
    expect(await within(wss.closed, 5000, 'closed')).toEqual({ closeCode: 1005, reason: '' });
  });
});

// ---------------------------------------------------------------------------------------------

describe('ways of closing, as the server receives them', () => {
  let conn: ServerConnection;
  let info: Awaited<WebSocketStream['opened']>;
  let wss: WebSocketStream;
  beforeEach(async () => {
    server = await TestServer.start({ mode: 'script' });
    wss = connect(server.url());
    info = await within(wss.opened, 5000, 'opened');
    conn = await server.nextConnection();
  });

  /** The Close the server received, and how closed settled. */
  async function outcome(): Promise<{ sent: { code: number; reason: string }; closed: unknown }> {
    const { code, reason } = await conn.next('close');
    const closed = await settle(wss.closed, 'closed');
    return { sent: { code, reason }, closed: 'value' in closed ? closed.value : closed.error };
  }

  test('close() sends no code (the server sees 1005)', async () => {
    wss.close();
    expect(await outcome()).toEqual({ sent: { code: 1005, reason: '' }, closed: { closeCode: 1005, reason: '' } });
  });

  test('close({ closeCode, reason }) sends both; close({ reason }) means 1000', async () => {
    wss.close({ reason: 'only a reason' });
    expect(await outcome()).toEqual({ sent: { code: 1000, reason: 'only a reason' }, closed: { closeCode: 1000, reason: 'only a reason' } });
  });

  test('close() validates like WebSocket.close(): InvalidAccessError, SyntaxError, TypeError ([EnforceRange]); a second close() does nothing', async () => {
    expect(domExceptionName(() => wss.close({ closeCode: 1001 }))).toBe('InvalidAccessError');
    expect(domExceptionName(() => wss.close({ closeCode: 2999 }))).toBe('InvalidAccessError');
    expect(domExceptionName(() => wss.close({ closeCode: 5000 }))).toBe('InvalidAccessError');
    expect(domExceptionName(() => wss.close({ closeCode: 4000, reason: 'x'.repeat(124) }))).toBe('SyntaxError');
    expect(() => wss.close({ closeCode: 70000 })).toThrow(expect.objectContaining({ name: 'TypeError' }));
    expect(() => wss.close({ closeCode: NaN })).toThrow(expect.objectContaining({ name: 'TypeError' }));
    expect(() => wss.close(42 as never)).toThrow(expect.objectContaining({ name: 'TypeError' }));
    // None of those started closing.
    wss.close({ closeCode: 3000.9, reason: 'é'.repeat(61) });
    wss.close({ closeCode: 4999, reason: 'ignored' });
    expect(await outcome()).toEqual({ sent: { code: 3000, reason: 'é'.repeat(61) }, closed: { closeCode: 3000, reason: 'é'.repeat(61) } });
  });

  test('writer.close() sends the messages written before it, then a Close frame without a code', async () => {
    const writer = info.writable.getWriter();
    writer.write('last words');
    await writer.close();
    expect(await conn.nextText()).toBe('last words');
    expect(await outcome()).toEqual({ sent: { code: 1005, reason: '' }, closed: { closeCode: 1005, reason: '' } });
  });

  test('writer.abort(WebSocketError) uses its code and reason; abort with anything else sends no code', async () => {
    await info.writable.getWriter().abort(new WebSocketError('stop', { closeCode: 4001, reason: 'aborted' }));
    expect(await outcome()).toEqual({ sent: { code: 4001, reason: 'aborted' }, closed: { closeCode: 4001, reason: 'aborted' } });

    const second = connect(server.url());
    const { writable } = await within(second.opened, 5000, 'opened');
    const conn2 = await server.nextConnection();
    await writable.getWriter().abort(new Error('not a WebSocketError'));
    expect(await conn2.next('close')).toMatchObject({ code: 1005, reason: '' });
  });

  test('readable.cancel(WebSocketError) uses its code and reason; cancel() sends no code', async () => {
    await info.readable.cancel(new WebSocketError('', { closeCode: 4002, reason: 'cancelled' }));
    expect(await outcome()).toEqual({ sent: { code: 4002, reason: 'cancelled' }, closed: { closeCode: 4002, reason: 'cancelled' } });

    const second = connect(server.url());
    const { readable } = await within(second.opened, 5000, 'opened');
    const conn2 = await server.nextConnection();
    await readable.cancel();
    expect(await conn2.next('close')).toMatchObject({ code: 1005, reason: '' });
  });

  test('a WebSocketError whose code script may not send (1006 from closed) closes without a code', async () => {
    conn.destroy();
    const lost = (await rejection(wss.closed, 'closed')) as WebSocketError;
    expect(lost.closeCode).toBe(1006);
    const second = connect(server.url());
    const { readable } = await within(second.opened, 5000, 'opened');
    const conn2 = await server.nextConnection();
    await readable.cancel(lost);
    expect(await conn2.next('close')).toMatchObject({ code: 1005, reason: '' });
  });
});

// ---------------------------------------------------------------------------------------------

describe('WebSocketError', () => {
  test('defaults: name WebSocketError, empty message, closeCode null, reason empty; a DOMException', () => {
    const error = new WebSocketError();
    expect(error).toBeInstanceOf(DOMException);
    expect([error.name, error.message, error.closeCode, error.reason, error.code]).toEqual(['WebSocketError', '', null, '', 0]);
    expect(Object.prototype.toString.call(error)).toBe('[object WebSocketError]');
    expect(typeof error.stack).toBe('string');
    expect(new WebSocketError(42 as never).message).toBe('42');
    expect(new WebSocketError('m', null).closeCode).toBeNull();
  });

  test('closeCode and reason: a reason alone means 1000; 1000 and 3000-4999 are allowed', () => {
    expect(new WebSocketError('', { reason: 'why' })).toMatchObject({ closeCode: 1000, reason: 'why' });
    expect(new WebSocketError('', { closeCode: 1000 })).toMatchObject({ closeCode: 1000, reason: '' });
    expect(new WebSocketError('', { closeCode: 3000, reason: 'r' })).toMatchObject({ closeCode: 3000, reason: 'r' });
    expect(new WebSocketError('', { closeCode: 4999.7 })).toMatchObject({ closeCode: 4999 }); // [EnforceRange] truncates
    expect(new WebSocketError('', { reason: 'x'.repeat(123) }).reason).toHaveLength(123);
    expect(new WebSocketError('', { reason: 'a\uD800' }).reason).toBe('a\uFFFD'); // USVString
  });

  test('the spec validation: InvalidAccessError for codes script may not use, SyntaxError for long reasons, TypeError out of range', () => {
    for (const closeCode of [0, 999, 1001, 1005, 1006, 1015, 2999, 5000, 65535]) {
      expect(domExceptionName(() => new WebSocketError('', { closeCode }))).toBe('InvalidAccessError');
    }
    expect(domExceptionName(() => new WebSocketError('', { reason: 'x'.repeat(124) }))).toBe('SyntaxError');
    expect(domExceptionName(() => new WebSocketError('', { closeCode: 3000, reason: '€'.repeat(42) }))).toBe('SyntaxError');
    for (const closeCode of [65536, -1, NaN, Infinity]) {
      expect(() => new WebSocketError('', { closeCode })).toThrow(expect.objectContaining({ name: 'TypeError' }));
    }
    expect(() => new WebSocketError('', 'init' as never)).toThrow(expect.objectContaining({ name: 'TypeError' }));
  });

  test('getters brand-check; the interface object and prototype have WebIDL shapes', () => {
    expect(Object.getPrototypeOf(WebSocketError)).toBe(DOMException);
    expect(Object.getPrototypeOf(WebSocketError.prototype)).toBe(DOMException.prototype);
    expect(WebSocketError.length).toBe(0);
    for (const name of ['closeCode', 'reason']) {
      const descriptor = Object.getOwnPropertyDescriptor(WebSocketError.prototype, name) as PropertyDescriptor;
      expect(descriptor).toMatchObject({ enumerable: true, configurable: true, set: undefined });
      expect(() => descriptor.get?.call(new DOMException('x'))).toThrow(expect.objectContaining({ name: 'TypeError' }));
    }
    expect(Object.getOwnPropertyDescriptor(WebSocketError.prototype, Symbol.toStringTag)).toEqual({
      value: 'WebSocketError',
      writable: false,
      enumerable: false,
      configurable: true,
    });
  });
});

describe('WebSocketStream WebIDL shapes', () => {
  test('lengths, accessors, toStringTag; opened and closed reject (not throw) on a wrong this; url and close throw', async () => {
    expect(WebSocketStream.length).toBe(1);
    expect(WebSocketStream.prototype.close.length).toBe(0);
    expect(Object.prototype.toString.call(WebSocketStream.prototype)).toBe('[object WebSocketStream]');
    const proto = WebSocketStream.prototype as unknown as Record<string, unknown>;
    for (const name of ['url', 'opened', 'closed']) {
      expect(Object.getOwnPropertyDescriptor(proto, name)).toMatchObject({ enumerable: true, configurable: true, set: undefined });
    }
    expect(Object.getOwnPropertyDescriptor(proto, 'close')).toMatchObject({ enumerable: true, writable: true, configurable: true });
    const get = (name: string): unknown => (Object.getOwnPropertyDescriptor(proto, name) as PropertyDescriptor).get?.call({});
    for (const name of ['opened', 'closed']) {
      const promise = get(name) as Promise<unknown>;
      expect(promise).toBeInstanceOf(Promise);
      expect(await rejection(promise, name)).toMatchObject({ name: 'TypeError' });
    }
    expect(() => get('url')).toThrow(expect.objectContaining({ name: 'TypeError' }));
    expect(() => WebSocketStream.prototype.close.call({})).toThrow(expect.objectContaining({ name: 'TypeError' }));
    expect(() => (WebSocketStream as unknown as () => void)()).toThrow(expect.objectContaining({ name: 'TypeError' }));
  });
});

// ---------------------------------------------------------------------------------------------

describe('backpressure, on the wire', () => {
  test('receiving: a reader that stops makes the client stop reading, so the server cannot write; everything arrives once it reads', async () => {
    server = await TestServer.start({ mode: 'script' });
    const wss = connect(server.url());
    const { readable } = await within(wss.opened, 5000, 'opened');
    const conn = await server.nextConnection();
    const bound = kernelBufferBound();
    // Far more than the kernel can hold on this connection, in 1 MiB messages numbered by a
    // first fragment of 4 bytes (the second fragment is the same buffer every time).
    const count = Math.max(128, Math.ceil((3 * bound) / MiB));
    const body = Buffer.alloc(MiB, 0x5a);
    for (let i = 0; i < count; i++) {
      const index = Buffer.alloc(4);
      index.writeUInt32BE(i);
      conn.sendFrame(Opcode.BINARY, index, { fin: false });
      conn.sendFrame(Opcode.CONTINUATION, body);
    }
    const total = count * (MiB + 4);
    const reader = readable.getReader();
    const first = (await within(reader.read(), 5000, 'the first message')).value as Uint8Array;
    expect(Buffer.from(first.buffer, first.byteOffset, 4).readUInt32BE(0)).toBe(0);
    // Now nobody reads. The server's bytes stop moving once the kernel's buffers are full.
    const unsent = await untilStalled(() => conn.socket.writableLength);
    expect(unsent).toBeGreaterThan(total - bound - 8 * MiB);
    // Reading again, every message arrives, in order and whole.
    for (let i = 1; i < count; i++) {
      const { value, done } = await within(reader.read(), 10_000, `message ${i}`);
      expect(done).toBe(false);
      const message = value as Uint8Array;
      expect(message.byteLength).toBe(MiB + 4);
      expect(Buffer.from(message.buffer, message.byteOffset, 4).readUInt32BE(0)).toBe(i);
    }
    expect(conn.socket.writableLength).toBe(0);
    wss.close();
    await within(wss.closed, 5000, 'closed');
  }, 60_000);

  test('sending: against a server that does not read, write() stops resolving once the kernel is full; desiredSize and ready follow; all arrives after', async () => {
    server = await TestServer.start({ mode: 'script' });
    const wss = connect(server.url());
    const { writable } = await within(wss.opened, 5000, 'opened');
    const conn = await server.nextConnection();
    conn.socket.pause();
    const writer = writable.getWriter();
    expect(writer.desiredSize).toBe(1);
    const chunk = Buffer.alloc(MiB, 1);
    const bound = kernelBufferBound();
    let resolved = 0;
    let pending: Promise<void>;
    for (;;) {
      chunk.writeUInt32BE(resolved);
      pending = writer.write(chunk);
      const outcome = await Promise.race([pending.then(() => 'resolved'), turns(500).then(() => 'stalled')]);
      if (outcome === 'stalled') break;
      resolved++;
      if (resolved * MiB > bound + 8 * MiB) throw new Error(`${resolved} MiB of writes resolved; the kernel cannot hold that much`);
    }
    expect(resolved).toBeGreaterThan(0);
    // One write in flight: the queue is full, and ready waits.
    expect(writer.desiredSize).toBe(0);
    expect(await Promise.race([writer.ready.then(() => 'ready'), turns(20).then(() => 'pending')])).toBe('pending');
    // The server reads again: the waiting write resolves, and the next ones do.
    conn.socket.resume();
    await within(pending, 10_000, 'the stalled write');
    expect(writer.desiredSize).toBe(1);
    for (let i = resolved + 1; i < resolved + 4; i++) {
      chunk.writeUInt32BE(i);
      await within(writer.write(chunk), 10_000, `write ${i}`);
    }
    await writer.close();
    for (let i = 0; i < resolved + 4; i++) {
      const message = await conn.nextBinary(10_000);
      expect([message.length, message.readUInt32BE(0)]).toEqual([MiB, i]);
    }
    expect(await within(wss.closed, 5000, 'closed')).toEqual({ closeCode: 1005, reason: '' });
  }, 60_000);

  test('small writes awaited in a loop share socket writes and all arrive in order', async () => {
    server = await TestServer.start({ mode: 'script' });
    const wss = connect(server.url());
    const { writable } = await within(wss.opened, 5000, 'opened');
    const conn = await server.nextConnection();
    const writer = writable.getWriter();
    for (let i = 0; i < 2000; i++) await writer.write(`m${i}`);
    await writer.close();
    for (let i = 0; i < 2000; i++) expect(await conn.nextText()).toBe(`m${i}`);
  });
});

// ---------------------------------------------------------------------------------------------

describe('process and threads', () => {
  const root = path.resolve(__dirname, '..', '..');
  const dist = path.join(root, 'dist', 'index.js');
  let worker: Worker | undefined;
  afterEach(async () => {
    await worker?.terminate();
    worker = undefined;
  });

  /** Collects a worker's messages until one of type `last`, bounded. */
  function messagesUntil(w: Worker, last: string): Promise<Record<string, unknown>[]> {
    const messages: Record<string, unknown>[] = [];
    return within(
      new Promise((resolve, reject) => {
        w.on('message', (message: Record<string, unknown>) => {
          messages.push(message);
          if (message.type === last) resolve(messages);
        });
        w.once('error', reject);
      }),
      10_000,
      `'${last}' from the worker (got ${JSON.stringify(messages)})`,
    );
  }

  beforeAll(() => {
    if (!existsSync(dist)) throw new Error('dist/ is missing: run `npm run build` (npm test does) before this file');
  });

  test("import 'polyfill' inside a worker installs WebSocketStream there; the stream runs on the worker's loop", async () => {
    server = await TestServer.start({ mode: 'echo' });
    worker = new Worker(fixture('stream-worker.mjs'), { workerData: { url: server.url() } });
    const exited = once(worker, 'exit');
    const messages = await messagesUntil(worker, 'closed');
    expect(messages.map((m) => m.type)).toEqual(['installed', 'open', 'echo', 'closed']);
    expect(messages[0]).toEqual({ type: 'installed', ours: true });
    expect(messages[2].text).toBe('text from a stream worker');
    expect([...(messages[2].binary as Uint8Array)]).toEqual([1, 2, 3]);
    expect(messages[3]).toEqual({ type: 'closed', closeCode: 1000, reason: 'worker done' });
    expect((await exited)[0]).toBe(0);
  });

  test('a browser worker script using WebSocketStream runs unchanged under polyfill/worker', async () => {
    server = await TestServer.start({ mode: 'echo' });
    worker = new Worker(fixture('stream-browser-worker.js'), { execArgv: ['--import', 'polyfill/worker'] });
    const exited = once(worker, 'exit');
    const messages = messagesUntil(worker, 'closed');
    worker.postMessage({ url: server.url() });
    expect(await messages).toEqual([
      { type: 'echo', data: 'hello from a browser stream worker' },
      { type: 'closed', closeCode: 1005, webSocketError: 'function' },
    ]);
    expect((await exited)[0]).toBe(0);
  });

  test('awaiting only opened of a failing stream is no unhandled rejection, and the process exits on its own', async () => {
    server = await TestServer.start({ respond: () => 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n' });
    const script = `
      const { WebSocketStream } = require(${JSON.stringify(dist)});
      new WebSocketStream(process.argv[1]).opened.catch((e) => console.log(e.name));
      new WebSocketStream(process.argv[1]); // nobody looks at either promise
    `;
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, ['-e', script, server.url()], { timeout: 10_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? (child.exitCode ?? -1) : 0, stdout, stderr });
      });
    });
    expect(result).toEqual({ code: 0, stdout: 'WebSocketError\n', stderr: '' });
  });
});

describe('diagnostics', () => {
  test('stream connections publish on the same channels as WebSocket, with the stream as `websocket`', async () => {
    server = await TestServer.start({ mode: 'echo' });
    const seen: [string, unknown][] = [];
    const listeners = (['open', 'close'] as const).map((name) => {
      const listener = (message: unknown): void => void seen.push([name, (message as { websocket: unknown }).websocket]);
      dc.subscribe(ChannelName[name], listener);
      return [name, listener] as const;
    });
    try {
      const wss = connect(server.url());
      await within(wss.opened, 5000, 'opened');
      wss.close();
      await within(wss.closed, 5000, 'closed');
      expect(seen).toEqual([
        ['open', wss],
        ['close', wss],
      ]);
    } finally {
      for (const [name, listener] of listeners) dc.unsubscribe(ChannelName[name], listener);
    }
  });
});
