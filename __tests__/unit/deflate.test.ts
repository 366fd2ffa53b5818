import fc from 'fast-check';
import * as zlib from 'node:zlib';
import { deflateAvailable, PerMessageDeflate, sweepIdle } from '../../lib/deflate';
import type { DeflateParams } from '../../lib/extensions';
import { FrameParser, type ParserSink } from '../../lib/parser';
import { pushBorrowed } from '../helpers/borrowed';
import { traceInflate } from '../helpers/inflate';

type Reported =
  | { type: 'message'; isText: boolean; data: string; compressed: boolean }
  | { type: 'ping' | 'pong'; data: string }
  | { type: 'close'; code: number }
  | { type: 'error'; closeCode: number; message: string };

const DEFAULTS: DeflateParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };

/** A client-role parser with a permessage-deflate codec, and what it reported (payloads as hex-free text/latin1). */
function setUp(params: Partial<DeflateParams> = {}, maxMessageSize?: number): { parser: FrameParser; events: Reported[]; codec: PerMessageDeflate } {
  const events: Reported[] = [];
  const sink: ParserSink = {
    onMessage: (isText, data, compressed) => events.push({ type: 'message', isText, data: data.toString(isText ? 'utf8' : 'latin1'), compressed }),
    onPing: (data) => events.push({ type: 'ping', data: data.toString('latin1') }),
    onPong: (data) => events.push({ type: 'pong', data: data.toString('latin1') }),
    onClose: (code) => events.push({ type: 'close', code }),
    onProtocolError: (closeCode, message) => events.push({ type: 'error', closeCode, message }),
  };
  const codec = new PerMessageDeflate({ ...DEFAULTS, ...params }, { threshold: 0 });
  return { parser: new FrameParser(sink, { role: 'client', maxMessageSize, decompressor: codec }), events, codec };
}

/** An unmasked frame, built by hand: FIN, RSV bits (4 = RSV1), opcode, payload. */
function frame(opcode: number, payload: Uint8Array | string, { fin = true, rsv = 0 } = {}): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);
  const n = body.length;
  const head = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  if (n < 126) head.push(n);
  else if (n < 0x10000) head.push(126, n >> 8, n & 0xff);
  else head.push(127, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  return Buffer.concat([Buffer.from(head), body]);
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const RSV1 = 4;
const TEXT = 1;
const BINARY = 2;
const CONTINUATION = 0;
const PING = 9;

/** Compresses like a server with zlib one-shot (sync flush), tail removed. */
function serverDeflate(data: Uint8Array, options: zlib.ZlibOptions = {}): Buffer {
  const out = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH, ...options });
  return out.subarray(0, out.length - 4);
}

/** Feeds `bytes` to a fresh setUp() in every two-piece split, and one byte at a time; all must report `expected`. */
function everySplit(bytes: Buffer, expected: Reported[], params: Partial<DeflateParams> = {}): void {
  const splits: Buffer[][] = [[bytes], Array.from(bytes, (b) => Buffer.from([b]))];
  for (let i = 1; i < bytes.length; i++) splits.push([bytes.subarray(0, i), bytes.subarray(i)]);
  for (const pieces of splits) {
    const { parser, events } = setUp(params);
    for (const p of pieces) parser.push(Buffer.from(p));
    expect(events).toEqual(expected);
  }
}

const hello = (compressed = true): Reported => ({ type: 'message', isText: true, data: 'Hello', compressed });

test('this Node can drive zlib as deflate.ts needs', () => {
  expect(deflateAvailable()).toBe(true);
});

describe('RFC 7692 §7.2.3 examples, split at every byte', () => {
  test('7.2.3.1: "Hello" in one compressed DEFLATE block', () => {
    everySplit(hex('c1 07 f2 48 cd c9 c9 07 00'), [hello()]);
  });

  test('7.2.3.1: the same, fragmented into two frames (RSV1 on the first only)', () => {
    everySplit(hex('41 03 f2 48 cd 80 04 c9 c9 07 00'), [hello()]);
  });

  test('7.2.3.2: two messages sharing the LZ77 window', () => {
    everySplit(hex('c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00'), [hello(), hello()]);
  });

  test('7.2.3.3: a DEFLATE block with no compression', () => {
    everySplit(hex('c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00'), [hello()]);
  });

  test('7.2.3.4: a DEFLATE block with BFINAL set to 1, and messages after it', () => {
    // After a final block the next message starts a new DEFLATE stream (with an empty window,
    // as in Chromium), here the 7.2.3.1 payload again.
    everySplit(hex('c1 08 f3 48 cd c9 c9 07 00 00 c1 07 f2 48 cd c9 c9 07 00'), [hello(), hello()]);
    // A final block that ends exactly at the payload's end (as zlib's Z_FINISH writes it).
    everySplit(hex('c1 07 f3 48 cd c9 c9 07 00 c1 07 f2 48 cd c9 c9 07 00'), [hello(), hello()]);
  });

  test('7.2.3.5: two DEFLATE blocks in one message', () => {
    everySplit(hex('c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00'), [hello()]);
  });

  test('7.2.3.6: an empty fragment, and an empty message', () => {
    everySplit(hex('41 03 f2 48 cd 00 00 80 04 c9 c9 07 00'), [hello()]);
    everySplit(hex('c1 01 00'), [{ type: 'message', isText: true, data: '', compressed: true }]);
    everySplit(hex('c1 00'), [{ type: 'message', isText: true, data: '', compressed: true }]);
  });
});

describe('context takeover', () => {
  test('with server_no_context_takeover the window is reset, so 7.2.3.2\'s second message has nothing to refer to (1007)', () => {
    const { parser, events } = setUp({ serverNoContextTakeover: true });
    parser.push(hex('c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00'));
    expect(events).toEqual([hello(), { type: 'error', closeCode: 1007, message: expect.stringMatching(/invalid compressed data.*distance/) }]);
  });

  test('uncompressed messages in between do not disturb the window', () => {
    everySplit(hex('c1 07 f2 48 cd c9 c9 07 00 81 03 78 79 7a 82 01 00 c1 05 f2 00 11 00 00'), [
      hello(),
      { type: 'message', isText: true, data: 'xyz', compressed: false },
      { type: 'message', isText: false, data: '\0', compressed: false },
      hello(),
    ]);
  });

  test('a stream of many messages compressed with one zlib stream decodes message by message', () => {
    const deflater = zlib.createDeflateRaw();
    const messages = Array.from({ length: 50 }, (_, i) => JSON.stringify({ seq: i, text: 'the same words again '.repeat(i % 5) }));
    const { parser, events } = setUp();
    const sizes: number[] = [];
    let pending = messages.length;
    const done = new Promise<void>((resolve) => {
      const next = (i: number): void => {
        deflater.write(messages[i]);
        deflater.flush(zlib.constants.Z_SYNC_FLUSH, () => {
          const out = deflater.read() as Buffer;
          const payload = out.subarray(0, out.length - 4);
          sizes.push(payload.length);
          parser.push(frame(TEXT, payload, { rsv: RSV1 }));
          if (--pending === 0) resolve();
          else next(i + 1);
        });
      };
      next(0);
    });
    return done.then(() => {
      deflater.close();
      expect(events).toEqual(messages.map((data) => ({ type: 'message', isText: true, data, compressed: true })));
      // Later messages refer back to earlier ones, so they came smaller than the first.
      expect(Math.max(...sizes.slice(10))).toBeLessThan(sizes[0]);
    });
  });
});

describe('receive rules', () => {
  test.each<[string, number, Buffer, RegExp]>([
    ['RSV1 on a continuation frame', 1002, Buffer.concat([frame(TEXT, serverDeflate(Buffer.from('ab')).subarray(0, 1), { fin: false, rsv: RSV1 }), frame(CONTINUATION, 'x', { rsv: RSV1 })]), /RSV1 set on a continuation frame/],
    ['RSV1 on a Ping', 1002, frame(PING, 'x', { rsv: RSV1 }), /RSV1 set on a control frame/],
    ['RSV2', 1002, frame(TEXT, 'x', { rsv: 2 }), /RSV2 or RSV3/],
    ['RSV3', 1002, frame(TEXT, 'x', { rsv: 1 }), /RSV2 or RSV3/],
    ['RSV1 and RSV2', 1002, frame(TEXT, 'x', { rsv: 6 }), /RSV2 or RSV3/],
    ['invalid DEFLATE data (block type 3)', 1007, frame(TEXT, hex('ff'), { rsv: RSV1 }), /invalid compressed data/],
    ['a stored block whose LEN and NLEN disagree', 1007, frame(BINARY, hex('00 05 00 00 00 48 65 6c 6c 6f'), { rsv: RSV1 }), /invalid compressed data/],
    ['text that inflates to invalid UTF-8', 1007, frame(TEXT, serverDeflate(Buffer.from([0x61, 0xff, 0x62])), { rsv: RSV1 }), /not valid UTF-8 \(after decompression\)/],
    ['text that inflates to a truncated UTF-8 sequence', 1007, frame(TEXT, serverDeflate(Buffer.from([0x61, 0xe2, 0x82])), { rsv: RSV1 }), /UTF-8/],
  ])('%s fails with %i', (_name, closeCode, bytes, message) => {
    const { parser, events } = setUp();
    parser.push(bytes);
    expect(events).toEqual([{ type: 'error', closeCode, message: expect.stringMatching(message) }]);
    // Nothing is reported after the failure.
    parser.push(frame(TEXT, 'more'));
    expect(events).toHaveLength(1);
  });

  test('binary messages are not checked as UTF-8', () => {
    const { parser, events } = setUp();
    parser.push(frame(BINARY, serverDeflate(Buffer.from([0xff, 0xfe])), { rsv: RSV1 }));
    expect(events).toEqual([{ type: 'message', isText: false, data: '\xff\xfe', compressed: true }]);
  });

  test('Pings between the fragments of a compressed message are reported first, in order', () => {
    const payload = serverDeflate(Buffer.from('Hello, fragmented world'));
    const third = Math.ceil(payload.length / 3);
    const bytes = Buffer.concat([
      frame(TEXT, payload.subarray(0, third), { fin: false, rsv: RSV1 }),
      frame(PING, 'p1'),
      frame(CONTINUATION, payload.subarray(third, 2 * third), { fin: false }),
      frame(PING, 'p2'),
      frame(CONTINUATION, payload.subarray(2 * third)),
    ]);
    everySplit(bytes, [
      { type: 'ping', data: 'p1' },
      { type: 'ping', data: 'p2' },
      { type: 'message', isText: true, data: 'Hello, fragmented world', compressed: true },
    ]);
  });

  test('invalid UTF-8 is found as early as in uncompressed text: in the first piece of a frame whose rest has not arrived', () => {
    const text = Buffer.concat([Buffer.from([0xc0, 0xaf]), Buffer.alloc(1 << 20, 0x61)]);
    const payload = zlib.deflateRawSync(text, { level: 0, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const bytes = frame(TEXT, payload.subarray(0, payload.length - 4), { rsv: RSV1 });
    const { parser, events } = setUp();
    parser.push(bytes.subarray(0, 64));
    expect(events).toEqual([{ type: 'error', closeCode: 1007, message: expect.stringMatching(/UTF-8/) }]);
  });

  test('a UTF-8 sequence split across two compressed fragments is valid', () => {
    const euro = Buffer.from('a€b');
    const deflater = zlib.createDeflateRaw();
    const parts = [euro.subarray(0, 2), euro.subarray(2)];
    const { parser, events } = setUp();
    return new Promise<void>((resolve) => {
      deflater.write(parts[0]);
      deflater.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        const first = deflater.read() as Buffer;
        deflater.write(parts[1]);
        deflater.flush(zlib.constants.Z_SYNC_FLUSH, () => {
          const second = deflater.read() as Buffer;
          parser.push(frame(TEXT, first, { fin: false, rsv: RSV1 }));
          parser.push(frame(CONTINUATION, second.subarray(0, second.length - 4)));
          deflater.close();
          expect(events).toEqual([{ type: 'message', isText: true, data: 'a€b', compressed: true }]);
          resolve();
        });
      });
    });
  });
});

describe('maxMessageSize applies to the inflated size, while inflating', () => {
  test('a message that inflates to exactly the limit arrives; one byte more fails with 1009', () => {
    const limit = 100_000;
    const ok = setUp({}, limit);
    ok.parser.push(frame(BINARY, serverDeflate(Buffer.alloc(limit)), { rsv: RSV1 }));
    expect(ok.events).toMatchObject([{ type: 'message', compressed: true }]);
    expect((ok.events[0] as { data: string }).data.length).toBe(limit);
    const over = setUp({}, limit);
    over.parser.push(frame(BINARY, serverDeflate(Buffer.alloc(limit + 1)), { rsv: RSV1 }));
    expect(over.events).toEqual([{ type: 'error', closeCode: 1009, message: expect.stringMatching(/inflates to more than the limit of 100000 bytes/) }]);
  });

  test('the compressed size does not count: 200 KB of wire bytes that inflate within the limit arrive', () => {
    const random = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 2654435761) >>> 24));
    const payload = serverDeflate(random, { level: 0 });
    expect(payload.length).toBeGreaterThan(200_000);
    const { parser, events } = setUp({}, 200_000);
    parser.push(frame(BINARY, payload, { rsv: RSV1 }));
    expect(events).toMatchObject([{ type: 'message', compressed: true }]);
  });

  test('fragments count together: the fragment that inflates past the limit fails', () => {
    const deflated = serverDeflate(Buffer.alloc(50_000, 0x20));
    const { parser, events } = setUp({}, 49_999);
    parser.push(frame(TEXT, deflated.subarray(0, 10), { fin: false, rsv: RSV1 }));
    parser.push(frame(CONTINUATION, deflated.subarray(10)));
    expect(events).toEqual([{ type: 'error', closeCode: 1009, message: expect.stringMatching(/limit of 49999 bytes/) }]);
  });

  test('the count starts again with each message', () => {
    const { parser, events } = setUp({}, 1000);
    for (let i = 0; i < 5; i++) parser.push(frame(TEXT, serverDeflate(Buffer.alloc(1000, 0x41)), { rsv: RSV1 }));
    expect(events).toHaveLength(5);
    expect(events.every((e) => e.type === 'message')).toBe(true);
  });
});

describe('compress', () => {
  test('output decodes to the input, under RSV1 rules: sync flush, tail removed, no final block', () => {
    const codec = new PerMessageDeflate(DEFAULTS, { threshold: 0 });
    const inputs = [Buffer.from('Hello'), Buffer.alloc(100_000, 0x61), Buffer.from(JSON.stringify({ a: [1, 2, 3], b: 'text' }).repeat(500)), Buffer.alloc(0)];
    const stream: Buffer[] = [];
    for (const input of inputs) {
      const out = Buffer.from(codec.compress(input) as Buffer);
      stream.push(out, Buffer.from([0, 0, 0xff, 0xff]));
    }
    const trace = traceInflate(Buffer.concat(stream));
    expect(trace.output.equals(Buffer.concat(inputs))).toBe(true);
    expect(trace.blocks.some((b) => b.final)).toBe(false);
    codec.close();
  });

  test('an empty message is the single byte 0x00 (RFC 7692 §7.2.3.6), first or after others', () => {
    const codec = new PerMessageDeflate(DEFAULTS, { threshold: 0 });
    expect(codec.compress(Buffer.alloc(0))).toEqual(Buffer.from([0]));
    codec.compress(Buffer.from('Hello'));
    expect(codec.compress(Buffer.alloc(0))).toEqual(Buffer.from([0]));
    expect(codec.compress(Buffer.alloc(0))).toEqual(Buffer.from([0]));
    codec.close();
  });

  test('context takeover: the same message again costs a few bytes; with client_no_context_takeover it costs as much as the first', () => {
    const message = Buffer.from(JSON.stringify({ user: 'someone', items: Array.from({ length: 40 }, (_, i) => i * 7) }));
    const taken = new PerMessageDeflate(DEFAULTS, { threshold: 0 });
    const first = (taken.compress(message) as Buffer).length;
    const second = (taken.compress(message) as Buffer).length;
    expect(second).toBeLessThan(10);
    expect(first).toBeGreaterThan(50);
    const reset = new PerMessageDeflate({ ...DEFAULTS, clientNoContextTakeover: true }, { threshold: 0 });
    const a = Buffer.from(reset.compress(message) as Buffer);
    const b = Buffer.from(reset.compress(message) as Buffer);
    expect(b).toEqual(a);
    // Each decodes on its own, with an empty window.
    expect(traceInflate(b).output.equals(message)).toBe(true);
    taken.close();
    reset.close();
  });

  test('threshold: shorter messages stay uncompressed (null), longer ones compress', () => {
    const codec = new PerMessageDeflate(DEFAULTS, { threshold: 10 });
    expect(codec.compress(Buffer.alloc(9))).toBeNull();
    expect(codec.compress(Buffer.alloc(10))).not.toBeNull();
    codec.close();
  });

  test.each([8, 9, 10, 11, 12, 13, 14, 15])('client_max_window_bits=%i: no match reaches further back than the window, and it does compress', (bits) => {
    const codec = new PerMessageDeflate({ ...DEFAULTS, clientMaxWindowBits: bits }, { threshold: 0 });
    const window = 1 << bits;
    // Repeats at distances from 1 to 64 KiB, so that a larger window would have been used.
    const unit = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff));
    const inputs: Buffer[] = [];
    for (const gap of [1, 100, 250, 256, 257, 300, 511, 1024, 5000, 20_000, 40_000]) {
      const filler = Buffer.from(Array.from({ length: gap }, (_, i) => (i * 2654435761) >>> 24));
      inputs.push(Buffer.concat([unit, filler, unit, unit, Buffer.alloc(400, 0x61)]));
    }
    const stream: Buffer[] = [];
    for (const input of inputs) stream.push(Buffer.from(codec.compress(input) as Buffer), Buffer.from([0, 0, 0xff, 0xff]));
    const trace = traceInflate(Buffer.concat(stream));
    expect(trace.output.equals(Buffer.concat(inputs))).toBe(true);
    expect(trace.maxDistance).toBeGreaterThan(0);
    expect(trace.maxDistance).toBeLessThanOrEqual(window);
    if (bits === 8) expect(trace.maxDistance).toBeLessThanOrEqual(250);
    // It does compress, within that window.
    const text = Buffer.from('a sentence that repeats, more or less, a sentence that repeats; '.repeat(500));
    expect((codec.compress(text) as Buffer).length).toBeLessThan(0.2 * text.length);
    codec.close();
  });
});

describe('lifecycle', () => {
  test('zlib streams are made on first use, and close frees them; a closed codec compresses nothing and inflates nothing', () => {
    const codec = new PerMessageDeflate(DEFAULTS, { threshold: 0 });
    codec.close();
    expect(codec.compress(Buffer.from('x'))).toBeNull();
    expect(codec.decompress(hex('f2 48 cd c9 c9 07 00'), true, 100, [])).toBe(-1);
    expect(codec.failure).toMatchObject({ closeCode: 1011 });
  });

  test('after a failure the codec stays failed', () => {
    const { parser, events, codec } = setUp();
    parser.push(frame(TEXT, hex('ff'), { rsv: RSV1 }));
    expect(events).toMatchObject([{ type: 'error', closeCode: 1007 }]);
    expect(codec.compress(Buffer.from('x'))).toBeNull();
  });
});

describe('zlib streams are freed when idle, and context takeover carries over', () => {
  /** Compresses `messages` with `codec`, returning each payload copied. */
  const compressAll = (codec: PerMessageDeflate, messages: Buffer[]): Buffer[] => messages.map((m) => Buffer.from(codec.compress(m) as Buffer));
  const message = (i: number): Buffer => Buffer.from(JSON.stringify({ type: 'update', seq: i, user: 'someone@example.com', body: 'the same words again and again' }));

  test('made on the first message only; freed at the second sweep without use, not the first', () => {
    const codec = new PerMessageDeflate(DEFAULTS, { threshold: 0 });
    expect(codec.holdsZlib).toBe(false);
    codec.compress(message(0));
    expect(codec.holdsZlib).toBe(true);
    sweepIdle();
    expect(codec.holdsZlib).toBe(true);
    codec.compress(message(1));
    sweepIdle();
    expect(codec.holdsZlib).toBe(true);
    sweepIdle();
    expect(codec.holdsZlib).toBe(false);
    codec.close();
  });

  test.each([8, 15])('sending (window bits %i): after a release the next message still refers to the earlier ones', (bits) => {
    const codec = new PerMessageDeflate({ ...DEFAULTS, clientMaxWindowBits: bits }, { threshold: 0 });
    const messages = [message(1), message(2), message(3), message(4)];
    const before = compressAll(codec, messages.slice(0, 2));
    sweepIdle();
    sweepIdle();
    expect(codec.holdsZlib).toBe(false);
    const after = compressAll(codec, messages.slice(2));
    // Small, because it refers back into what was sent before the release.
    expect(after[0].length).toBeLessThan(before[0].length / 2);
    const stream = Buffer.concat([...before, ...after].flatMap((p) => [p, Buffer.from([0, 0, 0xff, 0xff])]));
    const trace = traceInflate(stream);
    expect(trace.output.equals(Buffer.concat(messages))).toBe(true);
    expect(trace.maxDistance).toBeLessThanOrEqual(bits === 8 ? 256 : 1 << bits);
    codec.close();
  });

  test('receiving: a message part-way through the inflater keeps it over idle sweeps (a server pausing inside a message)', () => {
    const peer = new PerMessageDeflate(DEFAULTS, { threshold: 0 });
    const text = Buffer.from('x'.repeat(3000) + JSON.stringify({ a: 'b'.repeat(5000), c: [1, 2, 3] }).repeat(40));
    const compressed = Buffer.from(peer.compress(text) as Buffer);
    peer.close();
    const half = compressed.length >> 1;
    for (const split of ['inside one frame', 'between fragments'] as const) {
      const { parser, events, codec } = setUp();
      if (split === 'inside one frame') {
        const whole = frame(0x1, compressed, { rsv: 4 });
        parser.push(whole.subarray(0, half));
        sweepIdle();
        sweepIdle();
        parser.push(whole.subarray(half));
      } else {
        parser.push(frame(0x1, compressed.subarray(0, half), { fin: false, rsv: 4 }));
        sweepIdle();
        sweepIdle();
        parser.push(frame(0x0, compressed.subarray(half)));
      }
      expect(events).toEqual([{ type: 'message', isText: true, data: text.toString(), compressed: true }]);
      // Once the message is whole, idle sweeps free the streams again.
      sweepIdle();
      sweepIdle();
      expect(codec.holdsZlib).toBe(false);
      codec.close();
    }
  });

  test('receiving: after a release, messages that refer to earlier ones still inflate', async () => {
    const deflater = zlib.createDeflateRaw();
    const compressNext = (data: Buffer): Promise<Buffer> =>
      new Promise((resolve) => {
        deflater.write(data);
        deflater.flush(zlib.constants.Z_SYNC_FLUSH, () => {
          const out = deflater.read() as Buffer;
          resolve(out.subarray(0, out.length - 4));
        });
      });
    const { parser, events, codec } = setUp();
    const messages = Array.from({ length: 6 }, (_, i) => message(i));
    for (const m of messages.slice(0, 3)) parser.push(frame(TEXT, await compressNext(m), { rsv: RSV1 }));
    sweepIdle();
    sweepIdle();
    expect(codec.holdsZlib).toBe(false);
    const later = await Promise.all(messages.slice(3).map((m) => compressNext(m)));
    expect(later[0].length).toBeLessThan(messages[3].length / 2);
    for (const p of later) parser.push(frame(TEXT, p, { rsv: RSV1 }));
    deflater.close();
    expect(events).toEqual(messages.map((m) => ({ type: 'message', isText: true, data: m.toString(), compressed: true })));
    codec.close();
  });

  test('receiving a 1 MiB message keeps its last 32 KiB for later: a message referring into them inflates after a release', () => {
    const big = Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => 97 + ((i * 7) % 26)));
    const { parser, events, codec } = setUp();
    parser.push(frame(BINARY, serverDeflate(big), { rsv: RSV1 }));
    sweepIdle();
    sweepIdle();
    expect(codec.holdsZlib).toBe(false);
    // What a server with context takeover may send next: references into its window.
    const next = Buffer.concat([big.subarray(big.length - 30000, big.length - 20000), message(9)]);
    const payload = serverDeflate(next, { dictionary: big.subarray(big.length - 32768) });
    expect(payload.length).toBeLessThan(200);
    parser.push(frame(BINARY, payload, { rsv: RSV1 }));
    expect(events).toHaveLength(2);
    expect(events[1]).toEqual({ type: 'message', isText: false, data: next.toString('latin1'), compressed: true });
    codec.close();
  });

  test('with both no_context_takeover flags nothing is carried over, and streams are still freed', () => {
    const codec = new PerMessageDeflate({ ...DEFAULTS, clientNoContextTakeover: true, serverNoContextTakeover: true }, { threshold: 0 });
    const a = Buffer.from(codec.compress(message(1)) as Buffer);
    sweepIdle();
    sweepIdle();
    expect(codec.holdsZlib).toBe(false);
    expect(Buffer.from(codec.compress(message(1)) as Buffer)).toEqual(a);
    codec.close();
  });

  test('a closed codec is no longer swept', () => {
    const codec = new PerMessageDeflate(DEFAULTS, { threshold: 0 });
    codec.compress(message(1));
    codec.close();
    expect(codec.holdsZlib).toBe(false);
    sweepIdle();
    sweepIdle();
  });
});

describe('compressed messages from borrowed chunks (property)', () => {
  test('every read lands in one buffer, overwritten after each push: the messages inflate the same', () => {
    const message = fc.record({
      text: fc.boolean(),
      length: fc.oneof(fc.constantFrom(0, 1, 125, 65536, 70000), fc.integer({ min: 0, max: 90000 })),
      seed: fc.integer({ min: 0, max: 255 }),
      fragments: fc.integer({ min: 1, max: 3 }),
    });
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 4 }), fc.uniqueArray(fc.nat(), { maxLength: 25 }), (specs, rawCuts) => {
        // The peer's compressor: with context takeover and 15-bit windows both ways, what one
        // codec compresses the other inflates, message after message.
        const peer = new PerMessageDeflate(DEFAULTS, { threshold: 0 });
        const payloads = specs.map((m) => {
          // Compressible but not trivial: a repeating pattern with the seed mixed in.
          const b = Buffer.alloc(m.length);
          for (let i = 0; i < b.length; i++) b[i] = m.text ? 0x61 + ((i >> 3) % 26) : (i * m.seed) & 0xff;
          return b;
        });
        const parts: Buffer[] = [];
        specs.forEach((m, k) => {
          const compressed = Buffer.from(peer.compress(payloads[k]) as Buffer);
          for (let f = 0; f < m.fragments; f++) {
            const piece = compressed.subarray(Math.floor((compressed.length * f) / m.fragments), Math.floor((compressed.length * (f + 1)) / m.fragments));
            const opcode = f > 0 ? 0x0 : m.text ? 0x1 : 0x2;
            parts.push(frame(opcode, piece, { fin: f === m.fragments - 1, rsv: f === 0 ? 4 : 0 }));
          }
          parts.push(frame(0x9, `p${k}`));
        });
        peer.close();
        const stream = Buffer.concat(parts);
        const cuts = [...new Set(rawCuts.map((c) => c % stream.length))].filter((c) => c > 0).sort((a, b) => a - b);
        const seen: string[] = [];
        const codec = new PerMessageDeflate(DEFAULTS, { threshold: 0 });
        const sink: ParserSink = {
          onMessage: (isText, data) => seen.push(`${isText ? 't' : 'b'}:${data.toString('hex')}`),
          onPing: (data) => seen.push(`ping:${data.toString()}`),
          onPong: () => {},
          onClose: () => {},
          onProtocolError: (code, why) => seen.push(`error ${code} ${why}`),
        };
        const parser = new FrameParser(sink, { role: 'client', decompressor: codec, transientText: true });
        pushBorrowed(parser, stream, cuts);
        codec.close();
        expect(seen).toEqual(specs.flatMap((m, k) => [`${m.text ? 't' : 'b'}:${payloads[k].toString('hex')}`, `ping:p${k}`]));
      }),
      { numRuns: 40 },
    );
  });
});
