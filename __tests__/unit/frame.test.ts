import fc from 'fast-check';
import { Opcode } from '../../lib/constants';
import { encodeCloseBody, encodeFrame, frameHeadSize, maskCopy, MaskPool, maskInPlace, writeFrameHead, writeMaskedFrame } from '../../lib/frame';

/** A pool whose every key is `key`, as RFC 6455 §5.7's masked examples use 37 FA 21 3D. */
function fixedPool(key: number[]): MaskPool {
  return new MaskPool((target) => {
    for (let i = 0; i < target.length; i++) target[i] = key[i & 3];
  });
}

/** The definition of masking (RFC 6455 §5.3), one byte at a time. */
function referenceMask(data: Uint8Array, key: Uint8Array, keyOffset: number, start: number, length: number, phase: number): void {
  for (let i = 0; i < length; i++) data[start + i] ^= key[keyOffset + ((phase + i) & 3)];
}

const join = (parts: Uint8Array[]): Buffer => Buffer.concat(parts);

describe('RFC 6455 §5.7 example frames from the writer', () => {
  test('a single-frame unmasked text message "Hello"', () => {
    expect(join(encodeFrame(Opcode.TEXT, Buffer.from('Hello'))).toString('hex')).toBe('810548656c6c6f');
  });

  test('a single-frame masked text message "Hello", with the example key injected', () => {
    const frame = join(encodeFrame(Opcode.TEXT, Buffer.from('Hello'), { mask: fixedPool([0x37, 0xfa, 0x21, 0x3d]) }));
    expect(frame.toString('hex')).toBe('818537fa213d7f9f4d5158');
  });

  test('a fragmented unmasked text message "Hel" + "lo"', () => {
    const first = join(encodeFrame(Opcode.TEXT, Buffer.from('Hel'), { fin: false }));
    const second = join(encodeFrame(Opcode.CONTINUATION, Buffer.from('lo')));
    expect(first.toString('hex')).toBe('010348656c');
    expect(second.toString('hex')).toBe('80026c6f');
  });

  test('an unmasked Ping and a masked Pong "Hello"', () => {
    expect(join(encodeFrame(Opcode.PING, Buffer.from('Hello'))).toString('hex')).toBe('890548656c6c6f');
    const pong = join(encodeFrame(Opcode.PONG, Buffer.from('Hello'), { mask: fixedPool([0x37, 0xfa, 0x21, 0x3d]) }));
    expect(pong.toString('hex')).toBe('8a8537fa213d7f9f4d5158');
  });

  test('256 bytes and 64 KiB of binary data: 16- and 64-bit lengths', () => {
    const [head256, body256] = encodeFrame(Opcode.BINARY, Buffer.alloc(256));
    expect(head256.toString('hex')).toBe('827e0100');
    expect(body256).toHaveLength(256);
    const [head64k] = encodeFrame(Opcode.BINARY, Buffer.alloc(65536));
    expect(head64k.toString('hex')).toBe('827f0000000000010000');
  });
});

describe('length classes', () => {
  test.each([
    [0, '8200'],
    [1, '8201'],
    [125, '827d'],
    [126, '827e007e'],
    [127, '827e007f'],
    [65535, '827effff'],
    [65536, '827f0000000000010000'],
    [1 << 20, '827f0000000000100000'],
  ])('%i bytes: head %s, payload returned as is', (length, head) => {
    const payload = Buffer.alloc(length, 0x5a);
    const [h, p] = encodeFrame(Opcode.BINARY, payload);
    expect(h.toString('hex')).toBe(head);
    expect(p).toBe(payload); // unmasked: the caller's buffer, not a copy
  });

  test.each([0, 1, 125, 126, 65535, 65536, 1 << 20])('%i bytes masked: mask bit, key after the length, masked copy', (length) => {
    const payload = Buffer.alloc(length);
    for (let i = 0; i < length; i++) payload[i] = i * 5;
    const original = Buffer.from(payload);
    const key = [0x01, 0x80, 0xfe, 0x7f];
    const [h, p] = encodeFrame(Opcode.BINARY, payload, { mask: fixedPool(key) });
    const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
    expect(h).toHaveLength(2 + lengthBytes + 4);
    expect(h[1] & 0x80).toBe(0x80);
    expect(h[1] & 0x7f).toBe(length < 126 ? length : length < 65536 ? 126 : 127);
    expect([...h.subarray(2 + lengthBytes)]).toEqual(key);
    // The caller's buffer is never modified, and the masked bytes are the reference masking of it.
    expect(payload.equals(original)).toBe(true);
    expect(p).toHaveLength(length);
    if (length > 0) expect(p).not.toBe(payload);
    const expected = Buffer.from(original);
    referenceMask(expected, Uint8Array.from(key), 0, 0, length, 0);
    expect(Buffer.from(p).equals(expected)).toBe(true);
  });

  test('a length beyond 2^32 fills both words of the 64-bit form', () => {
    // Only the head is computed from the length when unmasked, so a stand-in avoids allocating 4 GiB.
    const fake = { length: 2 ** 32 + 0x01020304 } as unknown as Uint8Array;
    const [h, p] = encodeFrame(Opcode.BINARY, fake);
    expect(h.toString('hex')).toBe('827f0000000101020304');
    expect(p).toBe(fake);
  });

  test('FIN, RSV1 and every opcode go in the first byte', () => {
    for (const opcode of Object.values(Opcode)) {
      expect(encodeFrame(opcode, Buffer.alloc(0))[0][0]).toBe(0x80 | opcode);
      expect(encodeFrame(opcode, Buffer.alloc(0), { fin: false })[0][0]).toBe(opcode);
      expect(encodeFrame(opcode, Buffer.alloc(0), { rsv1: true })[0][0]).toBe(0xc0 | opcode);
    }
  });

  test('masking a view of a larger buffer leaves the rest of it alone', () => {
    const backing = Buffer.alloc(64, 0x11);
    const view = backing.subarray(3, 50);
    const [, p] = encodeFrame(Opcode.TEXT, view, { mask: new MaskPool() });
    expect(backing.equals(Buffer.alloc(64, 0x11))).toBe(true);
    expect(p).toHaveLength(47);
  });
});

describe('MaskPool', () => {
  test('hands out consecutive 4-byte keys from its batch and refills when it runs out', () => {
    let fills = 0;
    const pool = new MaskPool((target) => {
      fills++;
      for (let i = 0; i < target.length; i++) target[i] = (i + fills) & 0xff;
    });
    const key = new Uint8Array(6);
    pool.next(key, 1);
    expect([...key]).toEqual([0, 1, 2, 3, 4, 0]);
    pool.next(key, 2);
    expect([...key.subarray(2)]).toEqual([5, 6, 7, 8]);
    expect(fills).toBe(1);
    for (let i = 2; i < 8192 / 4; i++) pool.next(key, 0);
    expect(fills).toBe(1);
    pool.next(key, 0);
    expect(fills).toBe(2);
    expect([...key.subarray(0, 4)]).toEqual([2, 3, 4, 5]);
  });

  test('by default keys come from the CSPRNG and differ between frames', () => {
    const pool = new MaskPool();
    const keys = new Set<string>();
    for (let i = 0; i < 100; i++) keys.add(encodeFrame(Opcode.TEXT, Buffer.from('x'), { mask: pool })[0].subarray(2, 6).toString('hex'));
    expect(keys.size).toBeGreaterThan(95);
  });
});

describe('maskInPlace', () => {
  test('equals the byte-wise definition for every alignment, start, length, phase and key offset', () => {
    const key = Uint8Array.of(0xaa, 0x01, 0x5c, 0xf0, 0x37, 0xfa, 0x21, 0x3d);
    // Short lengths take the unrolled byte loop, those from 192 the word loop.
    const lengths = [...Array(41).keys(), ...Array.from({ length: 14 }, (_, i) => 186 + i)];
    const backing = new ArrayBuffer(256);
    for (let align = 0; align < 8; align++) {
      for (let start = 0; start < 6; start++) {
        for (const length of lengths) {
          for (let phase = 0; phase < 8; phase++) {
            const keyOffset = (align + phase) % 5;
            const data = new Uint8Array(backing, align, 220);
            for (let i = 0; i < data.length; i++) data[i] = (i * 29 + align) & 0xff;
            const expected = Uint8Array.from(data);
            referenceMask(expected, key, keyOffset, start, length, phase);
            maskInPlace(data, key, keyOffset, start, length, phase);
            if (Buffer.compare(data, expected) !== 0) {
              throw new Error(`mismatch: align ${align} start ${start} length ${length} phase ${phase} keyOffset ${keyOffset}`);
            }
          }
        }
      }
    }
  });

  test('masking twice restores the bytes; a payload unmasked in pieces equals one pass (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.array(fc.nat(300)),
        fc.nat(7),
        (bytes, key, rawCuts, align) => {
          const data = new Uint8Array(new ArrayBuffer(bytes.length + 8), align, bytes.length);
          data.set(bytes);
          maskInPlace(data, key);
          const whole = Uint8Array.from(data);
          maskInPlace(data, key);
          expect(Buffer.from(data).equals(Buffer.from(bytes))).toBe(true);
          // Piece by piece, each starting its key cycle where the previous piece stopped.
          const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          let from = 0;
          for (const cut of [...cuts, bytes.length]) {
            maskInPlace(data, key, 0, from, cut - from, from);
            from = cut;
          }
          expect(Buffer.from(data).equals(Buffer.from(whole))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('maskCopy', () => {
  test('equals a copy masked by the definition, for every source and target alignment and length', () => {
    const key = Uint8Array.of(0xaa, 0x01, 0x5c, 0xf0, 0x37, 0xfa, 0x21, 0x3d);
    // Short lengths take the unrolled byte loop, those from 192 the word loop.
    const lengths = [...Array(41).keys(), ...Array.from({ length: 14 }, (_, i) => 186 + i), 300];
    const sourceBacking = new ArrayBuffer(320);
    const targetBacking = new ArrayBuffer(320);
    for (let sourceAlign = 0; sourceAlign < 8; sourceAlign++) {
      for (let targetAlign = 0; targetAlign < 8; targetAlign++) {
        for (const length of lengths) {
          const keyOffset = (sourceAlign + targetAlign + length) % 5;
          const source = new Uint8Array(sourceBacking, sourceAlign, length);
          for (let i = 0; i < length; i++) source[i] = (i * 31 + sourceAlign) & 0xff;
          const original = Uint8Array.from(source);
          const target = new Uint8Array(targetBacking);
          target.fill(0xee);
          const expected = Uint8Array.from(target);
          expected.set(source, targetAlign + 3);
          referenceMask(expected, key, keyOffset, targetAlign + 3, length, 0);
          maskCopy(source, target, targetAlign + 3, key, keyOffset);
          if (Buffer.compare(target, expected) !== 0 || Buffer.compare(source, original) !== 0) {
            throw new Error(`mismatch: source align ${sourceAlign} target align ${targetAlign} length ${length}`);
          }
        }
      }
    }
  });

  test('a long payload at any alignment (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.nat(7), fc.nat(7), (bytes, key, a, b) => {
        const source = new Uint8Array(new ArrayBuffer(bytes.length + 8), a, bytes.length);
        source.set(bytes);
        const target = new Uint8Array(new ArrayBuffer(bytes.length + 8), b, bytes.length);
        maskCopy(source, target, 0, key, 0);
        const expected = Uint8Array.from(bytes);
        referenceMask(expected, key, 0, 0, bytes.length, 0);
        expect(Buffer.from(target).equals(Buffer.from(expected))).toBe(true);
        expect(Buffer.from(source).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('writeFrameHead and writeMaskedFrame', () => {
  test.each([0, 1, 125, 126, 127, 65535, 65536, 70000])('%i bytes: the same bytes as encodeFrame, at any offset', (length) => {
    const payload = Buffer.alloc(length);
    for (let i = 0; i < length; i++) payload[i] = (i * 7) & 0xff;
    const original = Buffer.from(payload);
    const key = [0x37, 0xfa, 0x21, 0x3d];
    for (const options of [{}, { fin: false }, { rsv1: true }]) {
      const expected = join(encodeFrame(Opcode.TEXT, payload, { ...options, mask: fixedPool(key) }));
      for (const offset of [0, 1, 5]) {
        const target = Buffer.alloc(offset + frameHeadSize(length, true) + length + 3, 0xee);
        const fin = (options as { fin?: boolean }).fin !== false;
        const rsv1 = (options as { rsv1?: boolean }).rsv1 === true;
        const end = writeMaskedFrame(target, offset, Opcode.TEXT, payload, fixedPool(key), fin, rsv1);
        expect(end).toBe(offset + expected.length);
        expect(target.subarray(offset, end).equals(expected)).toBe(true);
        // Nothing outside the frame is touched, and the payload is left as it was.
        expect(target.subarray(0, offset).every((b) => b === 0xee)).toBe(true);
        expect(target.subarray(end).every((b) => b === 0xee)).toBe(true);
        expect(payload.equals(original)).toBe(true);
      }
    }
  });

  test('an unmasked head ends where the payload starts; frameHeadSize counts the key', () => {
    const target = Buffer.alloc(16);
    expect(writeFrameHead(target, 1, Opcode.BINARY, 300, undefined)).toBe(1 + frameHeadSize(300, false));
    expect(target.subarray(1, 5).toString('hex')).toBe('827e012c');
    expect([frameHeadSize(125, false), frameHeadSize(126, false), frameHeadSize(65536, false)]).toEqual([2, 4, 10]);
    expect([frameHeadSize(125, true), frameHeadSize(126, true), frameHeadSize(65536, true)]).toEqual([6, 8, 14]);
  });
});

describe('encodeFrame memory', () => {
  test('small masked frames stay intact while many more are encoded (views are not clobbered)', () => {
    const pool = new MaskPool();
    const kept: { head: Buffer; body: Uint8Array; payload: Buffer }[] = [];
    // Enough frames of varied sizes to run through several of the shared slabs.
    for (let i = 0; i < 3000; i++) {
      const payload = Buffer.alloc(i % 1100, i & 0xff);
      const [head, body] = encodeFrame(Opcode.BINARY, payload, { mask: pool });
      kept.push({ head, body, payload });
    }
    for (const { head, body, payload } of kept) {
      expect(head).toHaveLength(frameHeadSize(payload.length, true));
      const unmasked = Buffer.from(body);
      referenceMask(unmasked, head, head.length - 4, 0, unmasked.length, 0);
      expect(unmasked.equals(payload)).toBe(true);
    }
  });

  test('head and payload views keep their bytes after later frames are encoded', () => {
    const pool = new MaskPool();
    const [head, body] = encodeFrame(Opcode.TEXT, Buffer.from('first'), { mask: pool });
    const snapshot = Buffer.concat([head, body]);
    for (let i = 0; i < 2000; i++) encodeFrame(Opcode.TEXT, Buffer.from('later frame'), { mask: pool });
    expect(Buffer.concat([head, body]).equals(snapshot)).toBe(true);
  });
});

describe('encodeCloseBody', () => {
  test('no code: an empty body', () => {
    expect(encodeCloseBody()).toHaveLength(0);
  });

  test('a code alone: two bytes, big-endian', () => {
    expect(encodeCloseBody(1000).toString('hex')).toBe('03e8');
    expect(encodeCloseBody(4999).toString('hex')).toBe('1387');
  });

  test('a code and a UTF-8 reason', () => {
    expect(encodeCloseBody(1001, Buffer.from('bye €')).toString('hex')).toBe('03e9' + Buffer.from('bye €').toString('hex'));
    expect(encodeCloseBody(3000, Buffer.alloc(0)).toString('hex')).toBe('0bb8');
  });

  test('a full-size Close frame: 123-byte reason, 125-byte body, 7-bit length', () => {
    const body = encodeCloseBody(1000, Buffer.alloc(123, 0x72));
    expect(body).toHaveLength(125);
    expect(encodeFrame(Opcode.CLOSE, body)[0].toString('hex')).toBe('887d');
  });
});
