/**
 * The connection's send path on the wire: frames built straight into shared batch memory, text
 * encoded into the frame by sendText(), several connections writing in the same tick, and batches
 * larger than one slab, and large payloads masked into pooled pieces. The TestServer parses what our client wrote (rejecting bad masking, bad
 * lengths and invalid UTF-8 as protocol errors), so each message it reports is a valid frame.
 * @see RFC 6455 §5.2, §5.3, §5.6
 */
import { EventEmitter, once } from 'node:events';
import { Connection, type ConnectionHandler } from '../../lib/connection';
import { defaultConnectOptions } from '../../lib/options';
import { type ServerConnection, TestServer } from '../../lib/server';
import { within } from '../helpers/events';

let server: TestServer;
const connections: Connection[] = [];

afterEach(async () => {
  for (const c of connections.splice(0)) c.abort('test over');
  await server.close();
});

/** A handler that records what the connection reports, with an event per report. */
class Recorder implements ConnectionHandler {
  readonly events = new EventEmitter();
  flushed = 0;
  onEstablished(): void {
    this.events.emit('open');
  }
  onMessage(): void {}
  onClosingHandshakeStarted(): void {}
  onFlushed(bytes: number): void {
    this.flushed += bytes;
    this.events.emit('flushed');
  }
  onClosed(): void {
    this.events.emit('closed');
  }
}

/** Opens a client Connection to the server; resolves once both sides are open. */
async function connect(): Promise<{ connection: Connection; conn: ServerConnection; recorder: Recorder }> {
  const recorder = new Recorder();
  const opened = once(recorder.events, 'open');
  const connection = new Connection(new URL(server.url()), defaultConnectOptions([]), recorder, {});
  connections.push(connection);
  const [conn] = await Promise.all([server.nextConnection(), within(opened, 5000, 'the connection to open')]);
  return { connection, conn, recorder };
}

/** Waits until the recorder has seen `bytes` flushed application bytes in total. */
async function flushedAtLeast(recorder: Recorder, bytes: number): Promise<void> {
  while (recorder.flushed < bytes) await within(once(recorder.events, 'flushed'), 5000, `${bytes} flushed bytes`);
}

beforeEach(async () => {
  server = await TestServer.start({ mode: 'script' });
});

describe('sendText', () => {
  // Lengths around the 7/16/64-bit length boundaries, the reservation bound (3 bytes per code
  // unit) that shrinks the head after encoding, and the size where text stops being inlined.
  const texts = [
    '',
    'a',
    'x'.repeat(41),
    'x'.repeat(42),
    'x'.repeat(125),
    'x'.repeat(126),
    '€'.repeat(41),
    '€'.repeat(42),
    'é'.repeat(63),
    'é'.repeat(64),
    'x'.repeat(5461),
    'x'.repeat(5462),
    '✓'.repeat(5461),
    '😀'.repeat(3000),
    'x'.repeat(65535),
    'y'.repeat(65536),
    'grüße ✓ 😀 日本語',
  ];

  test('every text arrives whole and unchanged; the returned count is its UTF-8 length', async () => {
    const { connection, conn } = await connect();
    for (const text of texts) expect(connection.sendText(text)).toBe(Buffer.byteLength(text));
    for (const text of texts) expect(await conn.nextText()).toBe(text);
  });

  test('lone surrogates go out as U+FFFD (the USVString conversion) and are counted as 3 bytes', async () => {
    const { connection, conn } = await connect();
    const cases = ['\uD800', 'a\uDC00b', '\uD83D', 'x'.repeat(200) + '\uDFFF', '\uD800'.repeat(6000)];
    for (const text of cases) expect(connection.sendText(text)).toBe(Buffer.from(text, 'utf8').length);
    for (const text of cases) expect(await conn.nextText()).toBe(text.replace(/[\uD800-\uDFFF]/g, '\uFFFD'));
  });

  test('text and binary messages interleaved in one tick keep their order', async () => {
    const { connection, conn } = await connect();
    const expected: (string | Buffer)[] = [];
    for (let i = 0; i < 300; i++) {
      if (i % 3 === 0) {
        const bytes = Buffer.alloc(i * 7, i & 0xff);
        connection.send(false, bytes);
        expected.push(bytes);
      } else {
        const text = `message ${i} ` + 'é'.repeat(i);
        connection.sendText(text);
        expected.push(text);
      }
    }
    for (const item of expected) {
      const m = await conn.next('message');
      expect(m.isText).toBe(typeof item === 'string');
      if (typeof item === 'string') expect(m.data.toString('utf8')).toBe(item);
      else expect(m.data.equals(item)).toBe(true);
    }
  });

  test('flushed bytes reported for text are its UTF-8 bytes', async () => {
    const { connection, conn, recorder } = await connect();
    const total = connection.sendText('✓✓✓') + connection.sendText('plain');
    await flushedAtLeast(recorder, total);
    expect(recorder.flushed).toBe(14);
    expect(await conn.nextText()).toBe('✓✓✓');
  });
});

describe('batches', () => {
  test('more than a slab of small frames in one tick all arrive, in order', async () => {
    const { connection, conn, recorder } = await connect();
    let bytes = 0;
    // About 300 KiB of frames: several 64 KiB slabs in one tick.
    for (let i = 0; i < 3000; i++) {
      const payload = Buffer.alloc(100, i & 0xff);
      payload.writeUInt32BE(i, 0);
      connection.send(false, payload);
      bytes += 100;
    }
    for (let i = 0; i < 3000; i++) {
      const data = await conn.nextBinary();
      expect(data.length).toBe(100);
      expect(data.readUInt32BE(0)).toBe(i);
    }
    await flushedAtLeast(recorder, bytes);
    expect(recorder.flushed).toBe(bytes);
  });

  test('sizes on both sides of the inline limit, large ones between small ones', async () => {
    const { connection, conn } = await connect();
    const sizes = [0, 1, 16383, 16384, 16385, 3, 70000, 5, 1 << 20, 125];
    const payloads = sizes.map((n, i) => {
      const b = Buffer.alloc(n);
      for (let j = 0; j < n; j++) b[j] = (j * 13 + i) & 0xff;
      return b;
    });
    const copies = payloads.map((b) => Buffer.from(b));
    for (const p of payloads) connection.send(false, p);
    for (let i = 0; i < payloads.length; i++) {
      expect((await conn.nextBinary()).equals(copies[i])).toBe(true);
      // The caller's buffer is never masked in place.
      expect(payloads[i].equals(copies[i])).toBe(true);
    }
  });

  test('connections sending in the same tick each get their own frames, in order', async () => {
    const a = await connect();
    const b = await connect();
    const c = await connect();
    const peers = [a, b, c];
    for (let i = 0; i < 500; i++) {
      for (let k = 0; k < peers.length; k++) {
        if (i % 2 === 0) peers[k].connection.sendText(`${k}:${i}`);
        else peers[k].connection.send(false, Buffer.from(`${k}:${i}`));
      }
    }
    for (let k = 0; k < peers.length; k++) {
      for (let i = 0; i < 500; i++) {
        const m = await peers[k].conn.next('message');
        expect(m.isText).toBe(i % 2 === 0);
        expect(m.data.toString()).toBe(`${k}:${i}`);
      }
    }
  });

  test('frames sent in later ticks do not change bytes of earlier batches still being written', async () => {
    const { connection, conn } = await connect();
    const expected: string[] = [];
    for (let tick = 0; tick < 50; tick++) {
      for (let i = 0; i < 40; i++) {
        const text = `tick ${tick} frame ${i} ` + 'z'.repeat((tick * 40 + i) % 300);
        connection.sendText(text);
        expected.push(text);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const text of expected) expect(await conn.nextText()).toBe(text);
  });
});

describe('large payloads, masked into pooled pieces', () => {
  /** `count` distinct payloads of `size` bytes, numbered from `first`. */
  const distinct = (first: number, count: number, size: number): Buffer[] =>
    Array.from({ length: count }, (_, k) => {
      const b = Buffer.alloc(size);
      for (let j = 0; j + 4 <= size; j += 4) b.writeUInt32BE(((first + k) * 0x9e3779b1 + j) >>> 0, j);
      return b;
    });

  test('pieces reused for new messages never change the bytes of messages still queued behind a stalled reader', async () => {
    const { connection, conn, recorder } = await connect();
    // The server stops reading: the kernel takes what fits, the rest stays queued in our socket.
    conn.socket.pause();
    const size = 256 * 1024 + 7; // not a whole number of pieces
    const first = distinct(0, 24, size);
    for (const p of first) connection.send(false, p);
    // Once some have been written, their pieces are back in the pool for the next messages.
    conn.socket.resume();
    await flushedAtLeast(recorder, 2 * size);
    conn.socket.pause();
    const second = distinct(24, 24, size);
    for (const p of second) connection.send(false, p);
    conn.socket.resume();
    for (const p of [...first, ...second]) expect((await conn.nextBinary(10_000)).equals(p)).toBe(true);
    await flushedAtLeast(recorder, 48 * size);
    expect(recorder.flushed).toBe(48 * size);
  });

  test('the bytes sent are those at the call: changing the buffer right after send() changes nothing', async () => {
    const { connection, conn } = await connect();
    const payload = distinct(7, 1, 300_000)[0];
    const copy = Buffer.from(payload);
    connection.send(false, payload);
    payload.fill(0);
    expect((await conn.nextBinary()).equals(copy)).toBe(true);
  });

  test('large text, through the encoding scratch and past it: ASCII, multi-byte, astral and a lone surrogate (sent as U+FFFD)', async () => {
    const { connection, conn } = await connect();
    const texts = [
      'x'.repeat(70_000), // 210 000 bytes at most: encoded in the scratch
      'ü✓😀'.repeat(12_000) + '\uD800' + 'end', // still within the scratch bound
      'y'.repeat(90_000), // 270 000 bytes at most: past the scratch, a buffer of its own
      'é'.repeat(200_000), // past it, 400 000 bytes
    ];
    for (const text of texts) {
      const bytes = Buffer.from(text, 'utf8');
      expect(connection.sendText(text)).toBe(bytes.length);
    }
    for (const text of texts) {
      const m = await conn.next('message');
      expect(m.isText).toBe(true);
      expect(m.data.equals(Buffer.from(text, 'utf8'))).toBe(true);
    }
  });
});
