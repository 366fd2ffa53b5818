/**
 * mask.ts: every bulk backend this runtime has (Node's http.websocketMask, the WebAssembly SIMD
 * routine, the JS loops) gives the bytes of RFC 6455 §5.3's definition, at every size around the
 * thresholds and the WebAssembly piece size; the committed bytes match lib/mask.wat; and without
 * WebAssembly (node --jitless) the JS loops take over.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { BULK_MIN, maskBackend, maskCopy, maskInPlace, selectMaskBackend, type MaskBackend } from '../../lib/mask';
import { MASK_WASM_BASE64, MASK_WAT_SHA256 } from '../../lib/mask-wasm';

const root = path.resolve(__dirname, '..', '..');

/** The definition of masking (RFC 6455 §5.3), one byte at a time. */
function referenceMask(data: Uint8Array, key: Uint8Array, keyOffset: number, start: number, length: number, phase: number): void {
  for (let i = 0; i < length; i++) data[start + i] ^= key[keyOffset + ((phase + i) & 3)];
}

const hasNative = typeof (require('node:http') as { websocketMask?: unknown }).websocketMask === 'function' && Number(process.versions.node.split('.')[0]) >= 26;
const backends: MaskBackend[] = ['js', 'wasm', 'native'];
// Around the bulk threshold, the word-loop threshold, the 32 KiB WebAssembly piece, and beyond.
const PIECE = 32 * 1024;
const sizes = [0, 1, 3, 4, 5, BULK_MIN - 1, BULK_MIN, BULK_MIN + 1, BULK_MIN + 3, 191, 192, 193, 1000, PIECE - 1, PIECE, PIECE + 1, PIECE + 5, 2 * PIECE + 3, 200_000];

afterAll(() => {
  // Leave the module as a fresh process would have it.
  selectMaskBackend(hasNative ? 'native' : 'wasm');
});

describe('backends', () => {
  test('the runtime offers WebAssembly here, and the native one exactly where node:http has websocketMask', () => {
    expect(selectMaskBackend('js')).toBe(true);
    expect(selectMaskBackend('wasm')).toBe(true);
    expect(selectMaskBackend('native')).toBe(hasNative);
  });

  test('the first choice is native where present, else WebAssembly', () => {
    // A fresh copy of the module, as a new process would load it.
    jest.isolateModules(() => {
      const fresh = require('../../lib/mask') as typeof import('../../lib/mask');
      expect(fresh.maskBackend()).toBe(hasNative ? 'native' : 'wasm');
    });
  });

  for (const name of backends) {
    test(`${name}: maskCopy equals the definition at every size, alignment and key offset`, () => {
      if (!selectMaskBackend(name)) {
        // Not in this runtime (native before Node 26): selecting it changed nothing.
        expect(name).toBe('native');
        expect(maskBackend()).not.toBe('native');
        return;
      }
      expect(maskBackend()).toBe(name);
      const key = Uint8Array.of(0xaa, 0x01, 0x5c, 0xf0, 0x37, 0xfa, 0x21, 0x3d);
      for (const size of sizes) {
        for (const [sourceAlign, targetAlign, keyOffset] of [[0, 0, 0], [1, 0, 1], [0, 3, 2], [5, 6, 4], [2, 2, 3]]) {
          const source = new Uint8Array(new ArrayBuffer(size + 8), sourceAlign, size);
          for (let i = 0; i < size; i++) source[i] = (i * 31 + sourceAlign) & 0xff;
          const original = Uint8Array.from(source);
          const target = new Uint8Array(new ArrayBuffer(size + 16)).fill(0xee);
          const expected = Uint8Array.from(target);
          expected.set(source, targetAlign);
          referenceMask(expected, key, keyOffset, targetAlign, size, 0);
          maskCopy(source, target, targetAlign, key, keyOffset);
          if (Buffer.compare(target, expected) !== 0 || Buffer.compare(source, original) !== 0) {
            throw new Error(`${name}: maskCopy mismatch at size ${size}, alignments ${sourceAlign}/${targetAlign}, key offset ${keyOffset}`);
          }
        }
      }
    });

    test(`${name}: maskInPlace equals the definition at every size, start and phase, with the key inside the data`, () => {
      if (!selectMaskBackend(name)) {
        expect(name).toBe('native');
        return;
      }
      for (const size of sizes) {
        for (const [start, phase] of [[0, 0], [4, 1], [7, 2], [1, 3], [3, 6]]) {
          // The key sits in the same buffer, right before the payload, as in a frame.
          const data = new Uint8Array(start + 4 + size + 3);
          for (let i = 0; i < data.length; i++) data[i] = (i * 13 + 7) & 0xff;
          const keyOffset = start;
          const expected = Uint8Array.from(data);
          referenceMask(expected, Uint8Array.from(data), keyOffset, start + 4, size, phase);
          maskInPlace(data, data, keyOffset, start + 4, size, phase);
          if (Buffer.compare(data, expected) !== 0) {
            throw new Error(`${name}: maskInPlace mismatch at size ${size}, start ${start}, phase ${phase}`);
          }
        }
      }
    });

    test(`${name}: a payload unmasked in pieces equals one pass, and masking twice restores it (property)`, () => {
      if (!selectMaskBackend(name)) {
        expect(name).toBe('native');
        return;
      }
      fc.assert(
        // Lengths drawn uniformly, so that most cross the bulk threshold and many a piece boundary.
        fc.property(fc.integer({ min: 0, max: 70_000 }), fc.nat(255), fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.array(fc.nat(70_000), { maxLength: 6 }), (length, seed, key, rawCuts) => {
          const bytes = Uint8Array.from({ length }, (_, i) => (i * 167 + seed) & 0xff);
          const data = Uint8Array.from(bytes);
          maskInPlace(data, key);
          const whole = Uint8Array.from(data);
          const expected = Uint8Array.from(bytes);
          referenceMask(expected, key, 0, 0, bytes.length, 0);
          expect(Buffer.compare(whole, expected)).toBe(0);
          maskInPlace(data, key);
          expect(Buffer.compare(data, bytes)).toBe(0);
          const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          let from = 0;
          for (const cut of [...cuts, bytes.length]) {
            maskInPlace(data, key, 0, from, cut - from, from);
            from = cut;
          }
          expect(Buffer.compare(data, whole)).toBe(0);
        }),
        { numRuns: 60 },
      );
    });
  }
});

describe('the committed WebAssembly module', () => {
  test('was compiled from lib/mask.wat as it is now (run scripts/build-mask-wasm.js after editing it)', () => {
    const sha = createHash('sha256').update(readFileSync(path.join(root, 'lib', 'mask.wat'))).digest('hex');
    expect(sha).toBe(MASK_WAT_SHA256);
  });

  test('validates, and has a fixed-size memory that cannot grow (views of it are never detached)', () => {
    const wasm = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean; Module: new (b: Uint8Array) => object; Instance: new (m: object) => { exports: { memory: { grow(n: number): number } } } } }).WebAssembly;
    const bytes = Buffer.from(MASK_WASM_BASE64, 'base64');
    expect(wasm.validate(bytes)).toBe(true);
    const memory = new wasm.Instance(new wasm.Module(bytes)).exports.memory;
    expect(() => memory.grow(1)).toThrow(RangeError);
  });
});

/** The newest modification time among the files under `dir`. */
function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) t = Math.max(t, statSync(path.join(dir, name)).mtimeMs);
  return t;
}

describe('without WebAssembly', () => {
  beforeAll(() => {
    // `npm test` builds first; a direct jest run builds only when dist/ is missing or older than lib/.
    const dist = path.join(root, 'dist', 'mask.js');
    if (!existsSync(dist) || statSync(dist).mtimeMs < newest(path.join(root, 'lib'))) {
      execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'pipe' });
    }
  }, 120_000);

  test('node --jitless (no WebAssembly) masks large payloads with the JS loops, correctly', () => {
    const script = `
      const { maskBackend, maskCopy } = require('./dist/mask.js');
      const source = Buffer.alloc(100000, 0x5a);
      const target = Buffer.alloc(100000);
      maskCopy(source, target, 0, Buffer.from([1, 2, 3, 4]), 0);
      let ok = true;
      for (let i = 0; i < source.length; i++) if (target[i] !== (0x5a ^ [1, 2, 3, 4][i % 4])) ok = false;
      process.stdout.write(JSON.stringify({ wasm: typeof WebAssembly, backend: maskBackend(), ok }));
    `;
    const out = execFileSync(process.execPath, ['--jitless', '-e', script], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    // Node 26 would still have its native routine, which needs no WebAssembly.
    expect(JSON.parse(out)).toEqual({ wasm: 'undefined', backend: hasNative ? 'native' : 'js', ok: true });
  });
});
