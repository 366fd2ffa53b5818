import fc from 'fast-check';
import { Opcode } from '../../lib/constants';
import { encodeCloseBody, encodeFrame, MaskPool } from '../../lib/frame';
import { FrameParser, type ParserOptions, type ParserSink } from '../../lib/parser';
import { pushBorrowed } from '../helpers/borrowed';

/** What a parser reported, in order. Payloads are kept as handed out (views), not copied. */
type Reported =
  | { type: 'message'; isText: boolean; data: Buffer }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'close'; code: number; reason: string }
  | { type: 'error'; closeCode: number; message: string };

function recorder(): { sink: ParserSink; events: Reported[] } {
  const events: Reported[] = [];
  const sink: ParserSink = {
    onMessage: (isText, data) => events.push({ type: 'message', isText, data }),
    onPing: (data) => events.push({ type: 'ping', data }),
    onPong: (data) => events.push({ type: 'pong', data }),
    onClose: (code, reason) => events.push({ type: 'close', code, reason }),
    onProtocolError: (closeCode, message) => events.push({ type: 'error', closeCode, message }),
  };
  return { sink, events };
}

/** A parser plus what it reported. */
function makeParser(options: ParserOptions = { role: 'client' }): { parser: FrameParser; events: Reported[] } {
  const { sink, events } = recorder();
  return { parser: new FrameParser(sink, options), events };
}

/** Events with payloads turned into comparable plain values (a copy taken now). */
function plain(events: Reported[]): unknown[] {
  return events.map((e) => {
    if (e.type === 'message') return { type: e.type, isText: e.isText, hex: e.data.toString('hex') };
    if (e.type === 'ping' || e.type === 'pong') return { type: e.type, hex: e.data.toString('hex') };
    if (e.type === 'error') return { type: e.type, closeCode: e.closeCode };
    return e;
  });
}

interface RawFrame {
  opcode: number;
  payload?: Uint8Array | string;
  fin?: boolean;
  /** RSV1-3 as a 3-bit number (4 = RSV1). */
  rsv?: number;
  /** A 4-byte masking key: mask the payload with it. */
  key?: Uint8Array;
  /** Force the 16- or 64-bit length form (the parser must accept non-minimal lengths). */
  lengthForm?: 7 | 16 | 64;
}

/**
 * Builds the bytes of one frame by hand, independently of lib/frame.ts, so that these tests do
 * not take the writer's word for the wire format.
 */
function raw(f: RawFrame): Buffer {
  const payload = typeof f.payload === 'string' ? Buffer.from(f.payload, 'utf8') : Buffer.from(f.payload ?? []);
  const n = payload.length;
  const form = f.lengthForm ?? (n < 126 ? 7 : n < 0x10000 ? 16 : 64);
  const bytes: number[] = [((f.fin ?? true) ? 0x80 : 0) | ((f.rsv ?? 0) << 4) | f.opcode];
  const maskBit = f.key ? 0x80 : 0;
  if (form === 7) bytes.push(maskBit | n);
  else if (form === 16) bytes.push(maskBit | 126, n >> 8, n & 0xff);
  else {
    bytes.push(maskBit | 127);
    const high = Math.floor(n / 2 ** 32);
    for (let s = 24; s >= 0; s -= 8) bytes.push((high >>> s) & 0xff);
    for (let s = 24; s >= 0; s -= 8) bytes.push((n >>> s) & 0xff);
  }
  if (f.key) {
    bytes.push(...f.key);
    for (let i = 0; i < n; i++) payload[i] ^= f.key[i & 3];
  }
  return Buffer.concat([Buffer.from(bytes), payload]);
}

const KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

/** Feeds `bytes` (a copy, since the server role unmasks in place) and returns what was reported. */
function parseAll(bytes: Uint8Array, options: ParserOptions = { role: 'client' }): Reported[] {
  const { parser, events } = makeParser(options);
  parser.push(Buffer.from(bytes));
  return events;
}

/** The one protocol error reported for `bytes`, asserting nothing else was. */
function faultOf(bytes: Uint8Array, options: ParserOptions = { role: 'client' }): number {
  const events = parseAll(bytes, options);
  const errors = events.filter((e) => e.type === 'error');
  expect(errors).toHaveLength(1);
  expect(events[events.length - 1]).toBe(errors[0]);
  return (errors[0] as { closeCode: number }).closeCode;
}

describe('RFC 6455 §5.7 example frames', () => {
  test('a single-frame unmasked text message "Hello"', () => {
    const events = parseAll(Buffer.from('810548656c6c6f', 'hex'));
    expect(plain(events)).toEqual([{ type: 'message', isText: true, hex: Buffer.from('Hello').toString('hex') }]);
  });

  test('a single-frame masked text message "Hello" (server role)', () => {
    const events = parseAll(Buffer.from('818537fa213d7f9f4d5158', 'hex'), { role: 'server' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'message', isText: true });
    expect((events[0] as { data: Buffer }).data.toString()).toBe('Hello');
  });

  test('a fragmented unmasked text message "Hel" + "lo"', () => {
    const events = parseAll(Buffer.from('010348656c80026c6f', 'hex'));
    expect(events).toHaveLength(1);
    expect((events[0] as { data: Buffer }).data.toString()).toBe('Hello');
  });

  test('an unmasked Ping "Hello" and a masked Pong "Hello"', () => {
    expect(plain(parseAll(Buffer.from('890548656c6c6f', 'hex')))).toEqual([
      { type: 'ping', hex: Buffer.from('Hello').toString('hex') },
    ]);
    expect(plain(parseAll(Buffer.from('8a8537fa213d7f9f4d5158', 'hex'), { role: 'server' }))).toEqual([
      { type: 'pong', hex: Buffer.from('Hello').toString('hex') },
    ]);
  });

  test('256 bytes of binary data with a 16-bit length', () => {
    const body = Buffer.alloc(256, 0xa5);
    const events = parseAll(Buffer.concat([Buffer.from('827e0100', 'hex'), body]));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'message', isText: false });
    expect((events[0] as { data: Buffer }).data.equals(body)).toBe(true);
  });

  test('64 KiB of binary data with a 64-bit length', () => {
    const body = Buffer.alloc(65536);
    for (let i = 0; i < body.length; i++) body[i] = i * 7;
    const events = parseAll(Buffer.concat([Buffer.from('827f0000000000010000', 'hex'), body]));
    expect(events).toHaveLength(1);
    expect((events[0] as { data: Buffer }).data.equals(body)).toBe(true);
  });
});

describe('frame head rules (close code 1002)', () => {
  test.each([1, 2, 3, 4, 5, 6, 7])('RSV bits %i without a negotiated extension', (rsv) => {
    expect(faultOf(raw({ opcode: Opcode.TEXT, payload: 'x', rsv }))).toBe(1002);
    expect(faultOf(raw({ opcode: Opcode.PING, rsv }))).toBe(1002);
  });

  test.each([0x3, 0x4, 0x5, 0x6, 0x7])('reserved data opcode 0x%s', (opcode) => {
    expect(faultOf(raw({ opcode, payload: 'x' }))).toBe(1002);
  });

  test.each([0xb, 0xc, 0xd, 0xe, 0xf])('reserved control opcode 0x%s', (opcode) => {
    expect(faultOf(raw({ opcode }))).toBe(1002);
  });

  test.each([Opcode.CLOSE, Opcode.PING, Opcode.PONG])('fragmented control frame (opcode %i)', (opcode) => {
    expect(faultOf(raw({ opcode, fin: false }))).toBe(1002);
  });

  test.each([Opcode.CLOSE, Opcode.PING, Opcode.PONG])('control frame (opcode %i) over 125 bytes', (opcode) => {
    expect(faultOf(raw({ opcode, payload: Buffer.alloc(126) }))).toBe(1002);
    // The 16-bit form of a small length is still a length over 125 as far as 7 bits can say.
    expect(faultOf(raw({ opcode, payload: Buffer.alloc(10), lengthForm: 16 }))).toBe(1002);
  });

  test('a control frame of exactly 125 bytes is accepted', () => {
    const payload = Buffer.alloc(125, 0x61);
    expect(plain(parseAll(raw({ opcode: Opcode.PING, payload })))).toEqual([{ type: 'ping', hex: payload.toString('hex') }]);
  });

  test('a continuation frame with no message to continue', () => {
    expect(faultOf(raw({ opcode: Opcode.CONTINUATION, payload: 'x' }))).toBe(1002);
    // Also right after a complete message.
    const stream = Buffer.concat([raw({ opcode: Opcode.TEXT, payload: 'a' }), raw({ opcode: Opcode.CONTINUATION, payload: 'b' })]);
    expect(faultOf(stream)).toBe(1002);
  });

  test.each([Opcode.TEXT, Opcode.BINARY])('a new data frame (opcode %i) inside a fragmented message', (opcode) => {
    const stream = Buffer.concat([raw({ opcode: Opcode.TEXT, payload: 'a', fin: false }), raw({ opcode, payload: 'b' })]);
    const events = parseAll(stream);
    expect(plain(events)).toEqual([{ type: 'error', closeCode: 1002 }]);
  });

  test('a 64-bit length with its most significant bit set', () => {
    const head = Buffer.from('827f8000000000000001', 'hex');
    expect(faultOf(head)).toBe(1002);
  });

  test('a masked frame from the server (client role)', () => {
    expect(faultOf(raw({ opcode: Opcode.TEXT, payload: 'hi', key: KEY }))).toBe(1002);
    expect(faultOf(raw({ opcode: Opcode.PING, key: KEY }))).toBe(1002);
  });

  test('an unmasked frame from the client (server role)', () => {
    expect(faultOf(raw({ opcode: Opcode.TEXT, payload: 'hi' }), { role: 'server' })).toBe(1002);
    expect(faultOf(raw({ opcode: Opcode.CLOSE }), { role: 'server' })).toBe(1002);
  });

  test('the fault is reported from the head alone, and the parser then ignores further bytes', () => {
    const { parser, events } = makeParser();
    parser.push(Buffer.from([0xc1])); // RSV1 + text: not yet decidable with 1 byte
    expect(events).toEqual([]);
    parser.push(Buffer.from([0x05]));
    expect(plain(events)).toEqual([{ type: 'error', closeCode: 1002 }]);
    expect(parser.stopped).toBe(true);
    parser.push(raw({ opcode: Opcode.TEXT, payload: 'after' }));
    expect(events).toHaveLength(1);
  });
});

describe('message size limit (close code 1009)', () => {
  test('fails at the head of a frame declaring more than maxMessageSize, before any payload', () => {
    const { parser, events } = makeParser({ role: 'client', maxMessageSize: 1000 });
    parser.push(Buffer.from('827e03e9', 'hex')); // binary, 16-bit length 1001, no payload yet
    expect(plain(events)).toEqual([{ type: 'error', closeCode: 1009 }]);
  });

  test('a 64-bit length far beyond the default limit fails from its head', () => {
    const { parser, events } = makeParser();
    parser.push(Buffer.from('817f0000000100000000', 'hex')); // 4 GiB text frame
    expect(plain(events)).toEqual([{ type: 'error', closeCode: 1009 }]);
  });

  test('without a limit, a length of 2^53 or more still fails (1009), since it is no longer exact', () => {
    const exact = makeParser({ role: 'client', maxMessageSize: Infinity });
    exact.parser.push(Buffer.from('827f001fffffffffffff', 'hex')); // 2^53 - 1
    expect(exact.events).toEqual([]);
    expect(exact.parser.stopped).toBe(false);
    const inexact = makeParser({ role: 'client', maxMessageSize: Infinity });
    inexact.parser.push(Buffer.from('827f0020000000000000', 'hex')); // 2^53
    expect(plain(inexact.events)).toEqual([{ type: 'error', closeCode: 1009 }]);
  });

  test('a message of exactly maxMessageSize is delivered', () => {
    const payload = Buffer.alloc(1000, 0x62);
    const events = parseAll(raw({ opcode: Opcode.BINARY, payload }), { role: 'client', maxMessageSize: 1000 });
    expect(plain(events)).toEqual([{ type: 'message', isText: false, hex: payload.toString('hex') }]);
  });

  test('counts the sum of the fragments and fails at the head of the fragment that crosses the limit', () => {
    const { parser, events } = makeParser({ role: 'server', maxMessageSize: 1000 });
    parser.push(raw({ opcode: Opcode.TEXT, payload: Buffer.alloc(600, 0x61), fin: false, key: KEY }));
    parser.push(raw({ opcode: Opcode.PING, payload: Buffer.alloc(100), key: KEY })); // control frames do not count
    parser.push(raw({ opcode: Opcode.CONTINUATION, payload: Buffer.alloc(400, 0x61), fin: false, key: KEY }));
    expect(events.map((e) => e.type)).toEqual(['ping']);
    const next = raw({ opcode: Opcode.CONTINUATION, payload: Buffer.alloc(1, 0x61), key: KEY });
    parser.push(next.subarray(0, 2)); // the head only
    expect(plain(events).slice(1)).toEqual([{ type: 'error', closeCode: 1009 }]);
  });

  test('the count starts again with each message', () => {
    const frames = [0, 1, 2].map(() => raw({ opcode: Opcode.BINARY, payload: Buffer.alloc(800) }));
    const events = parseAll(Buffer.concat(frames), { role: 'client', maxMessageSize: 1000 });
    expect(events.map((e) => e.type)).toEqual(['message', 'message', 'message']);
  });
});

describe('UTF-8 in text messages (close code 1007)', () => {
  test('an invalid single-frame text message', () => {
    expect(faultOf(raw({ opcode: Opcode.TEXT, payload: Buffer.from([0x61, 0xff, 0x62]) }))).toBe(1007);
    expect(faultOf(raw({ opcode: Opcode.TEXT, payload: Buffer.from('eda080', 'hex') }))).toBe(1007); // a surrogate
  });

  test('binary messages are not checked', () => {
    const payload = Buffer.from([0xff, 0xfe, 0xc0]);
    expect(plain(parseAll(raw({ opcode: Opcode.BINARY, payload })))).toEqual([
      { type: 'message', isText: false, hex: 'fffec0' },
    ]);
  });

  test('a sequence split across fragments is valid, and a bad byte in a later fragment fails there', () => {
    // "€" is E2 82 AC: split after E2 82.
    const ok = Buffer.concat([
      raw({ opcode: Opcode.TEXT, payload: Buffer.from('41e282', 'hex'), fin: false }),
      raw({ opcode: Opcode.CONTINUATION, payload: Buffer.from('ac42', 'hex') }),
    ]);
    expect(plain(parseAll(ok))).toEqual([{ type: 'message', isText: true, hex: Buffer.from('A€B').toString('hex') }]);

    const { parser, events } = makeParser();
    parser.push(raw({ opcode: Opcode.TEXT, payload: Buffer.from('41e282', 'hex'), fin: false }));
    expect(events).toEqual([]);
    // The continuation's first byte cannot continue E2 82; the frame is not final, yet it fails now.
    parser.push(raw({ opcode: Opcode.CONTINUATION, payload: Buffer.from('2842', 'hex'), fin: false }));
    expect(plain(events)).toEqual([{ type: 'error', closeCode: 1007 }]);
  });

  test('a bad second byte of a sequence split across fragments fails at once (overlong E0 80)', () => {
    const { parser, events } = makeParser();
    parser.push(raw({ opcode: Opcode.TEXT, payload: Buffer.from('e0', 'hex'), fin: false }));
    expect(events).toEqual([]);
    parser.push(raw({ opcode: Opcode.CONTINUATION, payload: Buffer.from('80', 'hex'), fin: false }));
    expect(plain(events)).toEqual([{ type: 'error', closeCode: 1007 }]);
  });

  test('a message that ends inside a sequence fails at its last fragment', () => {
    const { parser, events } = makeParser();
    parser.push(raw({ opcode: Opcode.TEXT, payload: Buffer.from('41f09f', 'hex'), fin: false }));
    parser.push(raw({ opcode: Opcode.CONTINUATION, payload: Buffer.from('98', 'hex'), fin: false }));
    expect(events).toEqual([]);
    parser.push(raw({ opcode: Opcode.CONTINUATION, payload: Buffer.alloc(0) }));
    expect(plain(events)).toEqual([{ type: 'error', closeCode: 1007 }]);
  });

  test('the fault is reported at the first bad byte of a huge frame, long before its end arrives', () => {
    const { parser, events } = makeParser({ role: 'client', maxMessageSize: 2 ** 40 });
    // A text frame declaring 2^32 bytes: only its head and 1 KiB of it will ever arrive.
    parser.push(Buffer.from('817f0000000100000000', 'hex'));
    parser.push(Buffer.alloc(1000, 0x61));
    expect(events).toEqual([]);
    parser.push(Buffer.from([0x61, 0x80, 0x61])); // a lone continuation byte
    expect(plain(events)).toEqual([{ type: 'error', closeCode: 1007 }]);
  });

  test('the same early fault in the server role, with the payload unmasked piece by piece', () => {
    const { parser, events } = makeParser({ role: 'server', maxMessageSize: 2 ** 40 });
    const head = Buffer.from('81ff0000000100000000', 'hex');
    parser.push(Buffer.concat([head, KEY]));
    // 1001 valid bytes then a bad one, masked as bytes 0..1001 of the payload; fed 3 bytes at a time.
    const body = Buffer.concat([Buffer.alloc(1001, 0x61), Buffer.from([0xc0])]);
    for (let i = 0; i < body.length; i++) body[i] ^= KEY[i & 3];
    for (let i = 0; i < body.length - 1; i += 3) {
      parser.push(Buffer.from(body.subarray(i, Math.min(i + 3, body.length - 1))));
      expect(events).toEqual([]);
    }
    parser.push(Buffer.from(body.subarray(body.length - 1)));
    expect(plain(events)).toEqual([{ type: 'error', closeCode: 1007 }]);
  });
});

describe('Close frames', () => {
  const close = (body: Uint8Array): Buffer => raw({ opcode: Opcode.CLOSE, payload: body });

  test('an empty Close frame reports 1005 and an empty reason', () => {
    expect(parseAll(close(Buffer.alloc(0)))).toEqual([{ type: 'close', code: 1005, reason: '' }]);
  });

  test('a 1-byte body fails with 1002', () => {
    expect(faultOf(close(Buffer.from([0x03])))).toBe(1002);
  });

  test.each([0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535])(
    'code %i may not appear on the wire: 1002',
    (code) => {
      expect(faultOf(close(encodeCloseBody(code)))).toBe(1002);
    },
  );

  test.each([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999])(
    'code %i is accepted',
    (code) => {
      expect(parseAll(close(encodeCloseBody(code, Buffer.from('why'))))).toEqual([{ type: 'close', code, reason: 'why' }]);
    },
  );

  test('a full-size Close: code and a 123-byte reason in 125 bytes', () => {
    const reason = 'é'.repeat(61) + 'r'; // 123 bytes, mostly 2-byte characters
    const body = encodeCloseBody(1000, Buffer.from(reason));
    expect(body).toHaveLength(125);
    expect(parseAll(close(body))).toEqual([{ type: 'close', code: 1000, reason }]);
  });

  test('a reason that is not UTF-8 fails with 1007', () => {
    expect(faultOf(close(encodeCloseBody(1000, Buffer.from([0x6f, 0x6b, 0xc3]))))).toBe(1007);
    expect(faultOf(close(encodeCloseBody(1000, Buffer.from('eda080', 'hex'))))).toBe(1007);
  });

  test('a UTF-8 reason is decoded, keeping a leading BOM; the parser stops after the Close', () => {
    const { parser, events } = makeParser();
    parser.push(Buffer.concat([close(encodeCloseBody(4001, Buffer.from('\ufeffé€😀'))), raw({ opcode: Opcode.TEXT, payload: 'late' })]));
    expect(events).toEqual([{ type: 'close', code: 4001, reason: '\ufeffé€😀' }]);
    expect(parser.stopped).toBe(true);
  });
});

describe('control frames and fragments', () => {
  test('control frames between fragments are reported in stream order, before the message', () => {
    const stream = Buffer.concat([
      raw({ opcode: Opcode.TEXT, payload: 'Hel', fin: false }),
      raw({ opcode: Opcode.PING, payload: 'p1' }),
      raw({ opcode: Opcode.CONTINUATION, payload: 'l', fin: false }),
      raw({ opcode: Opcode.PONG, payload: 'q' }),
      raw({ opcode: Opcode.PING }),
      raw({ opcode: Opcode.CONTINUATION, payload: 'o' }),
      raw({ opcode: Opcode.PING, payload: 'p2' }),
    ]);
    expect(plain(parseAll(stream))).toEqual([
      { type: 'ping', hex: Buffer.from('p1').toString('hex') },
      { type: 'pong', hex: Buffer.from('q').toString('hex') },
      { type: 'ping', hex: '' },
      { type: 'message', isText: true, hex: Buffer.from('Hello').toString('hex') },
      { type: 'ping', hex: Buffer.from('p2').toString('hex') },
    ]);
  });

  test('a Close between fragments ends parsing; the unfinished message is never delivered', () => {
    const stream = Buffer.concat([
      raw({ opcode: Opcode.BINARY, payload: 'ab', fin: false }),
      raw({ opcode: Opcode.CLOSE, payload: encodeCloseBody(1001) }),
      raw({ opcode: Opcode.CONTINUATION, payload: 'c' }),
    ]);
    expect(parseAll(stream)).toEqual([{ type: 'close', code: 1001, reason: '' }]);
  });

  test('empty fragments and empty messages', () => {
    const stream = Buffer.concat([
      raw({ opcode: Opcode.TEXT }),
      raw({ opcode: Opcode.BINARY, fin: false }),
      raw({ opcode: Opcode.CONTINUATION, fin: false }),
      raw({ opcode: Opcode.CONTINUATION, payload: 'z' }),
      raw({ opcode: Opcode.TEXT, fin: false }),
      raw({ opcode: Opcode.CONTINUATION }),
    ]);
    expect(plain(parseAll(stream))).toEqual([
      { type: 'message', isText: true, hex: '' },
      { type: 'message', isText: false, hex: '7a' },
      { type: 'message', isText: true, hex: '' },
    ]);
  });

  test('non-minimal 16- and 64-bit length forms are read correctly', () => {
    const stream = Buffer.concat([
      raw({ opcode: Opcode.TEXT, payload: 'sixteen', lengthForm: 16 }),
      raw({ opcode: Opcode.BINARY, payload: 'sixty-four', lengthForm: 64 }),
    ]);
    expect(plain(parseAll(stream))).toEqual([
      { type: 'message', isText: true, hex: Buffer.from('sixteen').toString('hex') },
      { type: 'message', isText: false, hex: Buffer.from('sixty-four').toString('hex') },
    ]);
  });
});

/** A stream exercising every state: all length forms, fragments, control frames, split UTF-8, a Close. */
function sampleFrames(key?: Uint8Array): Buffer[] {
  const big = Buffer.alloc(300);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  return [
    raw({ opcode: Opcode.TEXT, payload: 'Hello', key }),
    raw({ opcode: Opcode.BINARY, payload: Buffer.from([1, 2, 3]), fin: false, key }),
    raw({ opcode: Opcode.PING, payload: 'ping!', key }),
    raw({ opcode: Opcode.CONTINUATION, payload: Buffer.from([4, 5]), key }),
    raw({ opcode: Opcode.BINARY, payload: big, key }),
    raw({ opcode: Opcode.TEXT, payload: Buffer.from('c3a9e282', 'hex'), fin: false, key }), // "é" + 2/3 of "€"
    raw({ opcode: Opcode.CONTINUATION, payload: Buffer.from('acf09f9880', 'hex'), key }), // rest of "€", "😀"
    raw({ opcode: Opcode.PONG, key }),
    raw({ opcode: Opcode.TEXT, payload: 'x'.repeat(130), lengthForm: 64, key }),
    raw({ opcode: Opcode.CLOSE, payload: encodeCloseBody(1000, Buffer.from('bye')), key }),
  ];
}

const EXPECTED_SAMPLE = [
  { type: 'message', isText: true, hex: Buffer.from('Hello').toString('hex') },
  { type: 'ping', hex: Buffer.from('ping!').toString('hex') },
  { type: 'message', isText: false, hex: '0102030405' },
  { type: 'message', isText: false, hex: Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 31) & 0xff)).toString('hex') },
  { type: 'message', isText: true, hex: Buffer.from('é€😀').toString('hex') },
  { type: 'pong', hex: '' },
  { type: 'message', isText: true, hex: Buffer.from('x'.repeat(130)).toString('hex') },
  { type: 'close', code: 1000, reason: 'bye' },
];

/** Feeds `stream` cut at `cuts` (sorted offsets), each piece a fresh copy. */
function parsePieces(stream: Buffer, cuts: number[], options: ParserOptions): Reported[] {
  const { parser, events } = makeParser(options);
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    parser.push(Buffer.from(stream.subarray(from, cut)));
    from = cut;
  }
  return events;
}

describe.each([
  ['client', undefined],
  ['server', KEY],
] as const)('split input (%s role)', (role, key) => {
  const stream = Buffer.concat(sampleFrames(key));
  const options: ParserOptions = { role };

  test('the whole stream at once', () => {
    expect(plain(parsePieces(stream, [], options))).toEqual(EXPECTED_SAMPLE);
  });

  test('one byte at a time', () => {
    const cuts = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    expect(plain(parsePieces(stream, cuts, options))).toEqual(EXPECTED_SAMPLE);
  });

  test('split in two at every byte', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      expect({ cut, events: plain(parsePieces(stream, [cut], options)) }).toEqual({ cut, events: EXPECTED_SAMPLE });
    }
  });

  test('any split into pieces yields the same reports (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 40 }), (cuts) => {
        cuts.sort((a, b) => a - b);
        expect(plain(parsePieces(stream, cuts, options))).toEqual(EXPECTED_SAMPLE);
      }),
      { numRuns: 200 },
    );
  });
});

describe('views handed out are not clobbered', () => {
  test('messages keep their bytes after later pushes (client role, one chunk and several chunks)', () => {
    const { parser, events } = makeParser();
    const chunk = Buffer.concat([raw({ opcode: Opcode.TEXT, payload: 'first' }), raw({ opcode: Opcode.BINARY, payload: 'second' })]);
    parser.push(chunk);
    // A message spanning two chunks, and a head spanning two chunks.
    const spanning = raw({ opcode: Opcode.BINARY, payload: Buffer.alloc(200, 0x33) });
    parser.push(spanning.subarray(0, 1));
    parser.push(spanning.subarray(1, 100));
    parser.push(spanning.subarray(100));
    const kept = events.map((e) => (e as { data: Buffer }).data);
    const snapshot = kept.map((d) => Buffer.from(d));
    // Later traffic through the same parser: it must not write into buffers it handed out.
    for (let i = 0; i < 20; i++) {
      parser.push(raw({ opcode: Opcode.TEXT, payload: `later ${i}`, fin: false }));
      parser.push(raw({ opcode: Opcode.PING, payload: 'zzzz' }));
      parser.push(raw({ opcode: Opcode.CONTINUATION, payload: Buffer.alloc(150, 0x7a) }));
    }
    expect(events).toHaveLength(3 + 40);
    expect(kept.map((d) => d.toString('latin1'))).toEqual(snapshot.map((d) => d.toString('latin1')));
    expect(kept.map((d) => d.length)).toEqual([5, 6, 200]);
  });

  test('unmasked messages keep their bytes after later pushes (server role)', () => {
    const { parser, events } = makeParser({ role: 'server' });
    const stream = Buffer.concat([
      raw({ opcode: Opcode.TEXT, payload: 'abcdefgh', key: KEY }),
      raw({ opcode: Opcode.BINARY, payload: 'ijklmnop', fin: false, key: KEY }),
    ]);
    parser.push(stream.subarray(0, 13));
    parser.push(stream.subarray(13));
    parser.push(raw({ opcode: Opcode.CONTINUATION, payload: 'qrst', key: Uint8Array.of(1, 2, 3, 4) }));
    const kept = events.map((e) => (e as { data: Buffer }).data);
    for (let i = 0; i < 10; i++) parser.push(raw({ opcode: Opcode.TEXT, payload: 'x'.repeat(40), key: Uint8Array.of(9, 9, 9, 9) }));
    expect(events).toHaveLength(12);
    expect(kept.map((d) => d.toString())).toEqual(['abcdefgh', 'ijklmnopqrst']);
  });
});

describe('messages joined from pieces', () => {
  /** Whether `data` spans the whole of its ArrayBuffer (so the API can hand that over without a copy). */
  const ownsBuffer = (data: Buffer): boolean => data.byteOffset === 0 && data.buffer.byteLength === data.length;

  test('a message from several chunks or fragments owns its whole ArrayBuffer, whatever the split; one within a chunk is a view of it', () => {
    const payload = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff));
    const unfragmented = raw({ opcode: Opcode.BINARY, payload });
    const fragmented = Buffer.concat([
      raw({ opcode: Opcode.BINARY, payload: payload.subarray(0, 1000), fin: false }),
      raw({ opcode: Opcode.PING, payload: 'p' }),
      raw({ opcode: Opcode.CONTINUATION, payload: payload.subarray(1000, 1000), fin: false }),
      raw({ opcode: Opcode.CONTINUATION, payload: payload.subarray(1000) }),
    ]);
    for (const stream of [unfragmented, fragmented]) {
      // Cuts after the 4-byte head of the unfragmented frame, so that its payload spans both.
      for (const cut of [5, 6, 999, 1003, 1008, 1012, 2500, stream.length - 1]) {
        const { parser, events } = makeParser();
        parser.push(Buffer.from(stream.subarray(0, cut)));
        parser.push(Buffer.from(stream.subarray(cut)));
        const message = events.find((e) => e.type === 'message') as { data: Buffer };
        expect(message.data.equals(payload)).toBe(true);
        expect(ownsBuffer(message.data)).toBe(true);
      }
    }
    const { parser, events } = makeParser();
    const chunk = Buffer.concat([unfragmented, raw({ opcode: Opcode.TEXT, payload: 'after' })]);
    parser.push(chunk);
    expect((events[0] as { data: Buffer }).data.buffer).toBe(chunk.buffer);
  });

  test('transientText: text joined from pieces is right when read during onMessage, binary still owns its buffer', () => {
    const texts: string[] = [];
    const binaries: Buffer[] = [];
    const sink: ParserSink = {
      // Decoded during the call, as the connection does: the bytes may be reused afterwards.
      onMessage: (isText, data) => (isText ? texts.push(data.toString('utf8')) : binaries.push(data)),
      onPing: () => {},
      onPong: () => {},
      onClose: () => {},
      onProtocolError: (code, message) => {
        throw new Error(`${code} ${message}`);
      },
    };
    const parser = new FrameParser(sink, { role: 'client', transientText: true });
    const first = 'é'.repeat(3000);
    const second = 'x'.repeat(5000);
    const payload = Buffer.from(Array.from({ length: 5000 }, (_, i) => i & 0xff));
    const stream = Buffer.concat([
      raw({ opcode: Opcode.TEXT, payload: first.slice(0, 1000), fin: false }),
      raw({ opcode: Opcode.CONTINUATION, payload: first.slice(1000) }),
      raw({ opcode: Opcode.TEXT, payload: second }),
      raw({ opcode: Opcode.BINARY, payload }),
    ]);
    // One byte at a time: every message arrives in many pieces.
    for (let i = 0; i < stream.length; i++) parser.push(stream.subarray(i, i + 1));
    expect(texts).toEqual([first, second]);
    expect(binaries).toHaveLength(1);
    expect(binaries[0].equals(payload)).toBe(true);
    expect(ownsBuffer(binaries[0])).toBe(true);
  });

  test('a message whose last frame arrives in several chunks, fed byte by byte in the server role, is unmasked and whole', () => {
    const payload = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 13) & 0xff));
    const stream = Buffer.concat([
      raw({ opcode: Opcode.BINARY, payload: payload.subarray(0, 700), fin: false, key: KEY }),
      raw({ opcode: Opcode.CONTINUATION, payload: payload.subarray(700), key: Uint8Array.of(5, 6, 7, 8) }),
    ]);
    const { parser, events } = makeParser({ role: 'server' });
    for (let i = 0; i < stream.length; i++) parser.push(Buffer.from(stream.subarray(i, i + 1)));
    expect(events).toHaveLength(1);
    expect((events[0] as { data: Buffer }).data.equals(payload)).toBe(true);
  });
});

describe('writer -> parser round trips (property)', () => {
  // Lengths around every boundary of the length forms, and random ones between.
  const length = fc.oneof(
    fc.constantFrom(0, 1, 125, 126, 127, 65535, 65536, 65537),
    fc.integer({ min: 0, max: 70000 }),
  );
  const message = fc.record({
    text: fc.boolean(),
    length,
    seed: fc.integer({ min: 0, max: 255 }),
    fragments: fc.integer({ min: 1, max: 4 }),
  });

  /** Payload bytes for a message: any bytes for binary, a UTF-8 encoding for text. */
  function payloadFor(m: { text: boolean; length: number; seed: number }): Buffer {
    if (m.text) {
      // Characters of 1 to 4 UTF-8 bytes, so that fragment boundaries fall inside sequences.
      const units = ['a', 'é', '€', '😀'];
      const parts: string[] = [];
      for (let bytes = 0, i = m.seed; bytes < m.length; i++) {
        parts.push(units[i % 4]);
        bytes += (i % 4) + 1;
      }
      return Buffer.from(parts.join(''));
    }
    const b = Buffer.alloc(m.length);
    for (let i = 0; i < b.length; i++) b[i] = (i + m.seed) * 13;
    return b;
  }

  /** Writes each message as `fragments` frames (split at arbitrary bytes, even inside UTF-8). */
  function write(messages: { text: boolean; payload: Buffer; fragments: number }[], mask?: MaskPool): Buffer {
    const parts: Uint8Array[] = [];
    for (const m of messages) {
      const n = m.fragments;
      for (let f = 0; f < n; f++) {
        const piece = m.payload.subarray(Math.floor((m.payload.length * f) / n), Math.floor((m.payload.length * (f + 1)) / n));
        const opcode = f > 0 ? Opcode.CONTINUATION : m.text ? Opcode.TEXT : Opcode.BINARY;
        parts.push(...encodeFrame(opcode, piece, { fin: f === n - 1, mask }));
      }
    }
    return Buffer.concat(parts);
  }

  test.each([
    ['masked client writer -> server parser', 'server'],
    ['unmasked server writer -> client parser', 'client'],
  ] as const)('%s', (_name, role) => {
    const pool = role === 'server' ? new MaskPool() : undefined;
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 4 }), fc.uniqueArray(fc.nat(), { maxLength: 30 }), (specs, rawCuts) => {
        const messages = specs.map((m) => ({ text: m.text, payload: payloadFor(m), fragments: m.fragments }));
        const stream = write(messages, pool);
        // Read boundaries anywhere: inside heads, masking keys and payloads.
        const cuts = [...new Set(rawCuts.map((c) => c % stream.length))].filter((c) => c > 0).sort((a, b) => a - b);
        const events = parsePieces(stream, cuts, { role });
        expect(events.map((e) => e.type)).toEqual(messages.map(() => 'message'));
        events.forEach((e, i) => {
          const m = e as { isText: boolean; data: Buffer };
          expect(m.isText).toBe(messages[i].text);
          expect(m.data.equals(messages[i].payload)).toBe(true);
        });
      }),
      { numRuns: 60 },
    );
  });

  test.each([
    ['client', false],
    ['client', true],
    ['server', false],
  ] as const)('borrowed chunks (%s role, transientText %s): every read lands in one buffer, overwritten after each push; the reports are the same', (role, transientText) => {
    const pool = role === 'server' ? new MaskPool() : undefined;
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 4 }), fc.uniqueArray(fc.nat(), { maxLength: 30 }), (specs, rawCuts) => {
        const messages = specs.map((m) => ({ text: m.text, payload: payloadFor(m), fragments: m.fragments }));
        // A Ping after each message, so that control payloads come from borrowed reads too.
        const stream = Buffer.concat(messages.flatMap((m, i) => [write([m], pool), Buffer.concat(encodeFrame(Opcode.PING, Buffer.from(`p${i}`), { mask: pool }))]));
        const cuts = [...new Set(rawCuts.map((c) => c % stream.length))].filter((c) => c > 0).sort((a, b) => a - b);
        const seen: { type: string; text?: string; data?: Buffer }[] = [];
        const sink: ParserSink = {
          // As the connection does: text decoded during the call, borrowed binary copied.
          onMessage: (isText, data, _compressed, borrowed) =>
            seen.push(isText ? { type: 'text', text: data.toString('utf8') } : { type: 'binary', data: borrowed ? Buffer.from(data) : data }),
          onPing: (data) => seen.push({ type: 'ping', data }),
          onPong: () => {},
          onClose: () => {},
          onProtocolError: (code, why) => seen.push({ type: `error ${code} ${why}` }),
        };
        const parser = new FrameParser(sink, { role, transientText });
        pushBorrowed(parser, stream, cuts);
        expect(seen.map((e) => e.type)).toEqual(messages.flatMap((m) => [m.text ? 'text' : 'binary', 'ping']));
        messages.forEach((m, i) => {
          const got = seen[2 * i];
          if (m.text) expect(got.text).toBe(m.payload.toString('utf8'));
          else expect((got.data as Buffer).equals(m.payload)).toBe(true);
          expect((seen[2 * i + 1].data as Buffer).toString()).toBe(`p${i}`);
        });
      }),
      { numRuns: 60 },
    );
  });
});

describe('arbitrary peer input (property)', () => {
  test('never throws, and reports nothing after a Close or a protocol error', () => {
    // Bytes biased toward plausible heads so that the fuzz gets past the first byte often.
    const piece = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.constantFrom(...sampleFrames().map((f) => Uint8Array.from(f))),
      fc.constantFrom(...sampleFrames(KEY).map((f) => Uint8Array.from(f))),
      fc.constantFrom(Uint8Array.of(0x01, 0x02), Uint8Array.of(0x80, 0x00), Uint8Array.of(0x88, 0x00), Uint8Array.of(0x81, 0x7e)),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), fc.constantFrom('client', 'server'), (pieces, role) => {
        const { parser, events } = makeParser({ role: role as 'client' | 'server', maxMessageSize: 5000 });
        for (const p of pieces) parser.push(Buffer.from(p));
        const end = events.findIndex((e) => e.type === 'close' || e.type === 'error');
        if (end !== -1) {
          expect(end).toBe(events.length - 1);
          expect(parser.stopped).toBe(true);
        }
        for (const e of events) if (e.type === 'error') expect([1002, 1007, 1009]).toContain(e.closeCode);
      }),
      { numRuns: 500 },
    );
  });
});
