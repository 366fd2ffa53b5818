/**
 * send(), bufferedAmount and binaryType: what goes on the wire for each kind of data, and what
 * comes back through the TestServer's echo.
 * @see https://websockets.spec.whatwg.org/#dom-websocket-send
 * @see https://websockets.spec.whatwg.org/#dom-websocket-bufferedamount
 */
import { WebSocket } from '../../lib/ponyfill';
import { type ServerConnection, TestServer } from '../../lib/server';
import { next, domExceptionName, nextTask } from '../helpers/events';

let server: TestServer;
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) if (ws.readyState !== WebSocket.CLOSED) ws.close();
  await server.close();
});

/** Starts a server in `mode`, connects, and resolves once both sides are open. */
async function open(mode: 'echo' | 'script'): Promise<{ ws: WebSocket; conn: ServerConnection }> {
  server = await TestServer.start({ mode });
  const ws = new WebSocket(server.url());
  sockets.push(ws);
  const [conn] = await Promise.all([server.nextConnection(), next(ws, 'open')]);
  return { ws, conn };
}

describe('round trips through the echo', () => {
  test('strings, including non-ASCII, astral, empty and large ones', async () => {
    const { ws, conn } = await open('echo');
    const texts = ['hello', 'grüße ✓ 😀', '', '\uFEFFleading BOM kept', 'x'.repeat(70_000)];
    const received: string[] = [];
    ws.onmessage = (e: MessageEvent) => received.push(e.data as string);
    for (const text of texts) ws.send(text);
    for (const text of texts) expect(await conn.nextText()).toBe(text);
    while (received.length < texts.length) await next(ws, 'message');
    expect(received).toEqual(texts);
  });

  test('binaryType "arraybuffer": an ArrayBuffer is sent as binary and comes back as an ArrayBuffer', async () => {
    const { ws, conn } = await open('echo');
    ws.binaryType = 'arraybuffer';
    const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
    ws.send(bytes.buffer);
    expect([...(await conn.nextBinary())]).toEqual([...bytes]);
    const e = await next<MessageEvent>(ws, 'message');
    expect(e.data).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(e.data as ArrayBuffer)]).toEqual([...bytes]);
  });

  test('the default binaryType "blob" delivers a Blob with the bytes', async () => {
    const { ws } = await open('echo');
    expect(ws.binaryType).toBe('blob');
    ws.send(new Uint8Array([104, 105, 0, 255]));
    const e = await next<MessageEvent>(ws, 'message');
    expect(e.data).toBeInstanceOf(Blob);
    const blob = e.data as Blob;
    expect(blob.size).toBe(4);
    expect(blob.type).toBe('');
    expect([...new Uint8Array(await blob.arrayBuffer())]).toEqual([104, 105, 0, 255]);
  });

  test('an empty binary message arrives as an empty ArrayBuffer and an empty Blob', async () => {
    const { ws } = await open('echo');
    ws.binaryType = 'arraybuffer';
    ws.send(new ArrayBuffer(0));
    expect(((await next<MessageEvent>(ws, 'message')).data as ArrayBuffer).byteLength).toBe(0);
    ws.binaryType = 'blob';
    ws.send(new Uint8Array(0));
    expect(((await next<MessageEvent>(ws, 'message')).data as Blob).size).toBe(0);
  });

  test('a Uint8Array, and a large one, round-trip', async () => {
    const { ws, conn } = await open('echo');
    ws.binaryType = 'arraybuffer';
    const big = new Uint8Array(300_000).map((_, i) => i * 7);
    // Collected from the start: the echo of the first may arrive before the server has the second.
    const received: ArrayBuffer[] = [];
    ws.onmessage = (e: MessageEvent) => received.push(e.data as ArrayBuffer);
    ws.send(new Uint8Array([9, 8, 7]));
    ws.send(big);
    expect([...(await conn.nextBinary())]).toEqual([9, 8, 7]);
    expect(Buffer.compare(await conn.nextBinary(), big)).toBe(0);
    while (received.length < 2) await next(ws, 'message');
    expect([...new Uint8Array(received[0])]).toEqual([9, 8, 7]);
    expect(Buffer.compare(new Uint8Array(received[1]), big)).toBe(0);
  });

  test('an ArrayBufferView sends only its own bytes: a subarray, a DataView with offset, an Int16Array', async () => {
    const { ws, conn } = await open('echo');
    ws.binaryType = 'arraybuffer';
    const backing = new Uint8Array([10, 11, 12, 13, 14, 15, 16, 17]);
    ws.send(backing.subarray(2, 5));
    ws.send(new DataView(backing.buffer, 5, 2));
    ws.send(new Int16Array(backing.buffer, 2, 2)); // bytes 2..5
    ws.send(new Uint8Array(backing.buffer, 8)); // empty view at the end
    expect([...(await conn.nextBinary())]).toEqual([12, 13, 14]);
    expect([...(await conn.nextBinary())]).toEqual([15, 16]);
    expect([...(await conn.nextBinary())]).toEqual([12, 13, 14, 15]);
    expect([...(await conn.nextBinary())]).toEqual([]);
    const got: number[][] = [];
    for (let i = 0; i < 4; i++) got.push([...new Uint8Array((await next<MessageEvent>(ws, 'message')).data as ArrayBuffer)]);
    expect(got).toEqual([[12, 13, 14], [15, 16], [12, 13, 14, 15], []]);
    // The caller's data is not masked in place.
    expect([...backing]).toEqual([10, 11, 12, 13, 14, 15, 16, 17]);
  });

  test('a Blob is sent as a binary message with its bytes', async () => {
    const { ws, conn } = await open('echo');
    ws.binaryType = 'arraybuffer';
    ws.send(new Blob(['ab', new Uint8Array([0, 255])], { type: 'text/plain' }));
    expect([...(await conn.nextBinary())]).toEqual([97, 98, 0, 255]);
    expect([...new Uint8Array((await next<MessageEvent>(ws, 'message')).data as ArrayBuffer)]).toEqual([97, 98, 0, 255]);
  });

  test('each message event has its own data: an ArrayBuffer is not shared with the next message', async () => {
    const { ws } = await open('echo');
    ws.binaryType = 'arraybuffer';
    ws.send(new Uint8Array([1, 1]));
    ws.send(new Uint8Array([2, 2]));
    const first = (await next<MessageEvent>(ws, 'message')).data as ArrayBuffer;
    const second = (await next<MessageEvent>(ws, 'message')).data as ArrayBuffer;
    expect(first).not.toBe(second);
    expect([...new Uint8Array(first), ...new Uint8Array(second)]).toEqual([1, 1, 2, 2]);
  });
});

describe('send()', () => {
  test('while CONNECTING throws an InvalidStateError and leaves bufferedAmount at 0', async () => {
    server = await TestServer.start();
    const ws = new WebSocket(server.url());
    sockets.push(ws);
    expect(domExceptionName(() => ws.send('early'))).toBe('InvalidStateError');
    expect(domExceptionName(() => ws.send(new Uint8Array(3)))).toBe('InvalidStateError');
    expect(ws.bufferedAmount).toBe(0);
    await next(ws, 'open');
  });

  test('argument conversion comes before the state check: no argument is a TypeError even while CONNECTING', async () => {
    server = await TestServer.start();
    const ws = new WebSocket(server.url());
    sockets.push(ws);
    const send = ws.send as (this: WebSocket, ...args: unknown[]) => void;
    expect(() => send.call(ws)).toThrow(TypeError);
    expect(() => ws.send(new SharedArrayBuffer(1) as unknown as ArrayBuffer)).toThrow(TypeError);
    await next(ws, 'open');
  });

  test('with no argument is a TypeError, and nothing is sent', async () => {
    const { ws, conn } = await open('script');
    const send = ws.send as (this: WebSocket, ...args: unknown[]) => void;
    expect(() => send.call(ws)).toThrow(TypeError);
    ws.send('after');
    expect(await conn.nextText()).toBe('after');
  });

  test('a lone surrogate becomes U+FFFD on the wire (USVString)', async () => {
    const { ws, conn } = await open('script');
    ws.send('a\uD800b\uDC00c\uD83D\uDE00');
    const m = await conn.next('message');
    expect(m.isText).toBe(true);
    expect(m.data).toEqual(Buffer.from('a\uFFFDb\uFFFDc😀', 'utf8'));
    expect(ws.bufferedAmount).toBe(3 + 3 + 1 + 4 + 2); // 'a' 'b' 'c', two U+FFFD, one astral
  });

  test('other values are converted with ToString; a Symbol is a TypeError', async () => {
    const { ws, conn } = await open('script');
    ws.send({ toString: () => 'custom' } as unknown as string);
    ws.send(42 as unknown as string);
    ws.send(null as unknown as string);
    ws.send(undefined as unknown as string);
    ws.send([1, 2] as unknown as string);
    expect(() => ws.send(Symbol('no') as unknown as string)).toThrow(TypeError);
    for (const expected of ['custom', '42', 'null', 'undefined', '1,2']) expect(await conn.nextText()).toBe(expected);
  });

  test('a SharedArrayBuffer, or a view on one, is a TypeError and sends nothing', async () => {
    const { ws, conn } = await open('script');
    const shared = new SharedArrayBuffer(4);
    expect(() => ws.send(shared as unknown as ArrayBuffer)).toThrow(TypeError);
    expect(() => ws.send(new Uint8Array(shared))).toThrow(TypeError);
    expect(() => ws.send(new DataView(shared))).toThrow(TypeError);
    expect(ws.bufferedAmount).toBe(0);
    ws.send('next');
    expect(await conn.nextText()).toBe('next');
  });

  test('the message is the bytes at the time of send(): changing the buffer afterwards changes nothing', async () => {
    const { ws, conn } = await open('script');
    const small = new Uint8Array([1, 2, 3]);
    const large = new Uint8Array(100_000).fill(1);
    ws.send(small);
    ws.send(large);
    small.fill(9);
    large.fill(9);
    // Behind a Blob that is still being read, the frames are built later: still the old bytes.
    ws.send(new Blob(['b']));
    const behind = new Uint8Array([4, 5, 6]);
    const behindLarge = new Uint8Array(100_000).fill(4);
    ws.send(behind);
    ws.send(new DataView(behindLarge.buffer, 10));
    behind.fill(9);
    behindLarge.fill(9);
    expect([...(await conn.nextBinary())]).toEqual([1, 2, 3]);
    expect((await conn.nextBinary()).every((b) => b === 1)).toBe(true);
    expect([...(await conn.nextBinary())]).toEqual([98]);
    expect([...(await conn.nextBinary())]).toEqual([4, 5, 6]);
    const last = await conn.nextBinary();
    expect(last.length).toBe(99_990);
    expect(last.every((b) => b === 4)).toBe(true);
  });

  test('a detached ArrayBuffer, or a view on one, sends an empty binary message', async () => {
    const { ws, conn } = await open('script');
    const buffer = new ArrayBuffer(8);
    const typed = new Uint8Array(buffer, 2, 4);
    const view = new DataView(buffer, 1, 3);
    structuredClone(buffer, { transfer: [buffer] });
    expect(buffer.byteLength).toBe(0); // detached
    ws.send(buffer);
    ws.send(typed);
    ws.send(view);
    for (let i = 0; i < 3; i++) expect((await conn.nextBinary()).length).toBe(0);
    expect(ws.bufferedAmount).toBe(0);
  });

  test('Blobs keep their place: blob, string, blob, buffer arrive in call order', async () => {
    const { ws, conn } = await open('script');
    ws.send(new Blob(['blob-1']));
    ws.send('x');
    ws.send(new Blob([new Uint8Array(100_000).fill(7)]));
    ws.send(new Uint8Array([1]));
    ws.send('y');
    const order: string[] = [];
    for (let i = 0; i < 5; i++) {
      const m = await conn.next('message');
      order.push(m.isText ? `text:${m.data.toString()}` : m.data.length === 1 ? 'bytes:1' : `blob:${m.data.length}`);
    }
    expect(order).toEqual(['blob:6', 'text:x', 'blob:100000', 'bytes:1', 'text:y']);
  });

  test('after close() (CLOSING) and after CLOSED nothing is sent, but bufferedAmount still grows', async () => {
    const { ws, conn } = await open('script');
    ws.close(1000);
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    ws.send('héllo'); // 6 bytes of UTF-8
    ws.send(new Uint8Array(4));
    ws.send(new Blob(['abc']));
    expect(ws.bufferedAmount).toBe(6 + 4 + 3);
    await next(ws, 'close');
    expect(ws.readyState).toBe(WebSocket.CLOSED);
    ws.send(new ArrayBuffer(10));
    ws.send(new Uint16Array(new ArrayBuffer(16), 2, 3)); // 6 bytes: the view's, not the buffer's
    ws.send('');
    expect(ws.bufferedAmount).toBe(13 + 10 + 6);
    await nextTask();
    expect(ws.bufferedAmount).toBe(29); // never falls again: nothing will be written
    await conn.closed;
    const frames = conn.events.pending.filter((e) => e.type === 'message' || e.type === 'close');
    // The Close frame was the only frame the client sent.
    expect(frames).toEqual([{ type: 'close', code: 1000, reason: '' }]);
  });

  test('after the server has started closing, send() sends nothing but counts the bytes', async () => {
    server = await TestServer.start({ mode: 'script', answerClose: false });
    const ws = new WebSocket(server.url());
    sockets.push(ws);
    const [conn] = await Promise.all([server.nextConnection(), next(ws, 'open')]);
    conn.close(4000, 'stop');
    expect((await conn.next('close')).code).toBe(4000); // the client's answer
    // readyState may still be OPEN (its CLOSING task may not have run), yet nothing may be sent.
    ws.send('late');
    expect(ws.bufferedAmount).toBe(4);
    conn.destroy();
    await next(ws, 'close');
    expect(conn.events.pending.filter((e) => e.type === 'message')).toEqual([]);
    expect(ws.bufferedAmount).toBe(4);
  });
});

describe('bufferedAmount', () => {
  test('counts payload bytes (UTF-8 for strings) right after send(), in the same task', async () => {
    const { ws } = await open('echo');
    expect(ws.bufferedAmount).toBe(0);
    ws.send('héllo'); // 6
    expect(ws.bufferedAmount).toBe(6);
    ws.send(new Uint8Array(10)); // 16
    ws.send(new Uint8Array(new ArrayBuffer(32), 4, 3)); // 19: the view's bytes
    ws.send(new DataView(new ArrayBuffer(8), 1, 2)); // 21
    ws.send(new Blob(['abcd'])); // 25
    ws.send(new ArrayBuffer(5)); // 30
    expect(ws.bufferedAmount).toBe(30);
    // Within the same task it stays put, even across a microtask.
    await Promise.resolve();
    expect(ws.bufferedAmount).toBe(30);
  });

  test('falls back to 0 once the data has been written (checked in a task after the echo)', async () => {
    const { ws } = await open('echo');
    ws.send('x'.repeat(1000));
    ws.send(new Blob(['y'.repeat(500)]));
    expect(ws.bufferedAmount).toBe(1500);
    await next(ws, 'message');
    await next(ws, 'message');
    await nextTask();
    expect(ws.bufferedAmount).toBe(0);
  });

  test('does not include framing overhead, pings or the Close frame', async () => {
    const { ws, conn } = await open('script');
    conn.ping(Buffer.from('p'));
    await conn.next('pong');
    expect(ws.bufferedAmount).toBe(0);
    ws.send('ab');
    ws.close();
    expect(ws.bufferedAmount).toBe(2);
  });
});
