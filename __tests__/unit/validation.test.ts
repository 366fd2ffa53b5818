import fc from 'fast-check';
import { isToken, isUtf8, isUtf8Js, isValidApiCloseCode, isValidWireCloseCode, utf8Decode, Utf8StreamValidator } from '../../lib/validation';

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The reference: the Encoding Standard's fatal UTF-8 decoder, as Node implements it. */
function referenceIsUtf8(bytes: Uint8Array): boolean {
  try {
    decoder.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Runs `bytes` through a fresh stream validator cut at `cuts` (sorted offsets). */
function streamIsUtf8(bytes: Uint8Array, cuts: number[] = []): boolean {
  const v = new Utf8StreamValidator();
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (!v.push(bytes.subarray(from, cut))) return false;
    from = cut;
  }
  return v.end();
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/ /g, ''), 'hex');

// Each edge case of RFC 3629 §4 / the Encoding Standard's decoder, with what it must be.
const EDGE_CASES: [string, string, boolean][] = [
  ['empty', '', true],
  ['ASCII', '48656c6c6f', true],
  ['NUL and DEL', '007f', true],
  ['smallest 2-byte (U+0080)', 'c280', true],
  ['largest 2-byte (U+07FF)', 'dfbf', true],
  ['smallest 3-byte (U+0800)', 'e0a080', true],
  ['last before surrogates (U+D7FF)', 'ed9fbf', true],
  ['first after surrogates (U+E000)', 'ee8080', true],
  ['U+FFFF', 'efbfbf', true],
  ['BOM', 'efbbbf', true],
  ['smallest 4-byte (U+10000)', 'f0908080', true],
  ['largest code point (U+10FFFF)', 'f48fbfbf', true],
  ['mixed', '41 c3a9 e282ac f09f9880 42', true],
  ['overlong NUL (C0 80)', 'c080', false],
  ['overlong (C1 BF)', 'c1bf', false],
  ['overlong 3-byte (E0 80 80)', 'e08080', false],
  ['overlong 3-byte (E0 9F BF)', 'e09fbf', false],
  ['overlong 4-byte (F0 80 80 80)', 'f0808080', false],
  ['overlong 4-byte (F0 8F BF BF)', 'f08fbfbf', false],
  ['high surrogate (U+D800)', 'eda080', false],
  ['low surrogate (U+DFFF)', 'edbfbf', false],
  ['surrogate pair as CESU-8', 'eda0bd edb880', false],
  ['U+110000 (F4 90 80 80)', 'f4908080', false],
  ['lead F5', 'f5808080', false],
  ['lead F7', 'f7bfbfbf', false],
  ['lead F8 (5-byte form)', 'f888808080', false],
  ['lead FC (6-byte form)', 'fc8480808080', false],
  ['FE', 'fe', false],
  ['FF', 'ff', false],
  ['lone continuation 80', '80', false],
  ['lone continuation BF', '41bf42', false],
  ['truncated 2-byte', 'c2', false],
  ['truncated 3-byte', 'e282', false],
  ['truncated 4-byte', 'f09f98', false],
  ['truncated then ASCII', 'e28241', false],
  ['truncated then a new lead', 'e282 e282ac', false],
  ['too many continuations', 'c280 80', false],
  ['4-byte lead with a 2-byte body', 'f09f 41', false],
];

describe('UTF-8 validation against the fatal TextDecoder', () => {
  test('the reference agrees with the expectations written down', () => {
    for (const [name, bytes, valid] of EDGE_CASES) expect({ name, valid: referenceIsUtf8(hex(bytes)) }).toEqual({ name, valid });
  });

  test.each(EDGE_CASES)('%s: isUtf8Js, isUtf8 (short and long) and the stream validator', (_name, text, valid) => {
    const bytes = hex(text);
    expect(isUtf8Js(bytes)).toBe(valid);
    expect(isUtf8(bytes)).toBe(valid);
    // Padded past the native threshold, so buffer.isUtf8 decides, with the case at both ends.
    const pad = Buffer.alloc(40, 0x61);
    expect(isUtf8(Buffer.concat([pad, bytes]))).toBe(valid);
    expect(isUtf8(Buffer.concat([bytes, pad]))).toBe(valid);
    expect(streamIsUtf8(bytes)).toBe(valid);
  });

  test.each(EDGE_CASES)('%s: the stream validator, split in two and in three at every position', (_name, text, valid) => {
    // Put ASCII around the case so that splits fall before, inside and after it.
    const bytes = Buffer.concat([hex('41'), hex(text), hex('42')]);
    for (let a = 0; a <= bytes.length; a++) {
      expect({ a, valid: streamIsUtf8(bytes, [a]) }).toEqual({ a, valid });
      for (let b = a; b <= bytes.length; b++) expect({ a, b, valid: streamIsUtf8(bytes, [a, b]) }).toEqual({ a, b, valid });
    }
    const each = Array.from({ length: bytes.length }, (_, i) => i);
    expect(streamIsUtf8(bytes, each)).toBe(valid);
  });

  test('isUtf8Js honours start and end', () => {
    const bytes = hex('ff 41 e282ac 42 ff');
    expect(isUtf8Js(bytes)).toBe(false);
    expect(isUtf8Js(bytes, 1, 6)).toBe(true);
    expect(isUtf8Js(bytes, 1, 4)).toBe(false); // ends inside "€"
  });

  test('every 1- and 2-byte input; every 3- and 4-byte lead with every second byte', () => {
    const one = new Uint8Array(1);
    const two = new Uint8Array(2);
    for (let a = 0; a < 256; a++) {
      one[0] = a;
      expect(isUtf8Js(one)).toBe(referenceIsUtf8(one));
      expect(streamIsUtf8(one)).toBe(referenceIsUtf8(one));
      for (let b = 0; b < 256; b++) {
        two[0] = a;
        two[1] = b;
        const expected = referenceIsUtf8(two);
        if (isUtf8Js(two) !== expected || streamIsUtf8(two, [1]) !== expected) {
          throw new Error(`disagreement on ${Buffer.from(two).toString('hex')}: expected ${expected}`);
        }
      }
    }
    // Leads F8-FF fail alone (covered above); later bytes only need to be a continuation or not.
    const tails = [0x7f, 0x80, 0xbf, 0xc0];
    for (let lead = 0xe0; lead < 0xf8; lead++) {
      for (let second = 0; second < 256; second++) {
        for (const third of tails) {
          for (const fourth of [undefined, ...tails]) {
            const bytes = Uint8Array.from(fourth === undefined ? [lead, second, third] : [lead, second, third, fourth]);
            const expected = referenceIsUtf8(bytes);
            if (isUtf8Js(bytes) !== expected || streamIsUtf8(bytes, [1, 2]) !== expected) {
              throw new Error(`disagreement on ${Buffer.from(bytes).toString('hex')}: expected ${expected}`);
            }
          }
        }
      }
    }
  });

  test('random bytes, weighted to the non-ASCII range, split at random (property)', () => {
    const byte = fc.oneof(fc.integer({ min: 0x80, max: 0xff }), fc.integer({ min: 0, max: 0x7f }), fc.constantFrom(0xc2, 0xe0, 0xed, 0xf0, 0xf4, 0x80, 0xbf));
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 80 }), fc.array(fc.nat(80)), (values, rawCuts) => {
        const bytes = Uint8Array.from(values);
        const expected = referenceIsUtf8(bytes);
        const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        expect(isUtf8Js(bytes)).toBe(expected);
        expect(isUtf8(bytes)).toBe(expected);
        expect(streamIsUtf8(bytes, cuts)).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  });

  test('any Unicode string encodes to valid UTF-8, whatever the split (property)', () => {
    fc.assert(
      fc.property(fc.fullUnicodeString({ maxLength: 60 }), fc.array(fc.nat(300)), (s, rawCuts) => {
        const bytes = Buffer.from(s, 'utf8');
        const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        expect(isUtf8(bytes)).toBe(true);
        expect(streamIsUtf8(bytes, cuts)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  test('the stream validator fails at the piece holding the first bad byte, and end() resets it', () => {
    const v = new Utf8StreamValidator();
    expect(v.push(hex('41 e2'))).toBe(true);
    expect(v.push(hex('82'))).toBe(true);
    expect(v.end()).toBe(false); // stopped inside "€"
    // Reset: a fresh stream starts clean.
    expect(v.push(hex('ac'))).toBe(false);
    const w = new Utf8StreamValidator();
    expect(w.push(hex('f0'))).toBe(true);
    expect(w.push(hex('8f'))).toBe(false); // overlong, known from the second byte
    const x = new Utf8StreamValidator();
    expect(x.push(hex('e282ac'))).toBe(true);
    expect(x.end()).toBe(true);
    expect(x.push(hex('41'))).toBe(true);
    expect(x.end()).toBe(true);
  });
});

describe('utf8Decode (valid UTF-8 to a string, by whichever route this runtime takes)', () => {
  // Every route (ASCII as Latin-1 from 64 bytes, ICU's transcoder from 1 KiB before Node 24,
  // toString) must give what the Encoding Standard's decoder gives, BOM kept.
  test('equals UTF-8 decode without BOM for any Unicode string, short or long, mostly ASCII or not (property)', () => {
    const ascii = fc.stringOf(fc.char(), { maxLength: 3000 });
    const mixed = fc.fullUnicodeString({ maxLength: 1500 });
    const repeated = fc.tuple(fc.fullUnicodeString({ minLength: 1, maxLength: 8 }), fc.nat(600)).map(([u, n]) => u.repeat(n));
    fc.assert(
      fc.property(fc.oneof(ascii, mixed, repeated), fc.boolean(), (text, bom) => {
        const s = bom ? `\uFEFF${text}` : text;
        const bytes = Buffer.from(s, 'utf8');
        expect(utf8Decode(bytes)).toBe(decoder.decode(bytes));
        expect(utf8Decode(bytes)).toBe(s);
      }),
      { numRuns: 400 },
    );
  });

  test('around the route thresholds: ASCII, Latin-1 range (never taken as Latin-1 bytes), astral, and a view inside a larger buffer', () => {
    for (const n of [0, 1, 63, 64, 65, 1023, 1024, 1025, 70_000]) {
      for (const unit of ['a', 'é', '€', '😀', '\u0080', '\u007f']) {
        const s = unit.repeat(n);
        const bytes = Buffer.from(s, 'utf8');
        expect(utf8Decode(bytes)).toBe(s);
        const framed = Buffer.concat([Buffer.from('xyz'), bytes, Buffer.from('!')]).subarray(3, 3 + bytes.length);
        expect(utf8Decode(framed)).toBe(s);
      }
    }
  });
});

describe('close codes', () => {
  test('on the wire: 1000-1003, 1007-1014 and 3000-4999 (RFC 6455 §7.4)', () => {
    const allowed: number[] = [];
    for (let code = 0; code < 70000; code++) if (isValidWireCloseCode(code)) allowed.push(code);
    const expected = [1000, 1001, 1002, 1003, ...Array.from({ length: 8 }, (_, i) => 1007 + i)];
    for (let c = 3000; c <= 4999; c++) expected.push(c);
    expect(allowed).toEqual(expected);
  });

  test('in WebSocket.close(): 1000 and 3000-4999 only', () => {
    const allowed: number[] = [];
    for (let code = 0; code < 70000; code++) if (isValidApiCloseCode(code)) allowed.push(code);
    expect(allowed[0]).toBe(1000);
    expect(allowed[1]).toBe(3000);
    expect(allowed[allowed.length - 1]).toBe(4999);
    expect(allowed).toHaveLength(1 + 2000);
  });
});

describe('isToken (subprotocol names, header names)', () => {
  test.each(['chat', 'v1.json', 'a-b_c~d', "!#$%&'*+-.^_`|~", 'X'])('%j is a token', (s) => {
    expect(isToken(s)).toBe(true);
  });

  test.each(['', ' ', 'a b', 'a,b', 'a;b', 'a/b', '"a"', 'a\t', 'a\x7f', 'é', 'a:b', '(a)', '[a]', '{a}', 'a=b', 'a?', 'a@b', 'a\\b', '\u0000'])(
    '%j is not a token',
    (s) => {
      expect(isToken(s)).toBe(false);
    },
  );

  test('exactly the tchar set of RFC 7230 §3.2.6', () => {
    const tchars = new Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
    for (let c = 0; c < 0x100; c++) expect({ c, ok: isToken(String.fromCharCode(c)) }).toEqual({ c, ok: tchars.has(String.fromCharCode(c)) });
  });
});
