/**
 * Masking (RFC 6455 §5.3): XORing a payload with a frame's 4-byte key. Pure. Short payloads are
 * masked by JS loops; from {@link BULK_MIN} bytes on, by the fastest bulk backend this runtime
 * has, chosen on first use: Node's own `http.websocketMask` (Node 26 and later), else a
 * WebAssembly SIMD routine (lib/mask.wat, 16 bytes per instruction), else the JS word loop
 * (where WebAssembly is unavailable, e.g. under `--jitless`). All give the same bytes.
 * @see RFC 6455 §5.3
 */
import { endianness } from 'node:os';
import { MASK_WASM_BASE64 } from './mask-wasm';

const LITTLE_ENDIAN = endianness() === 'LE';

// Below this many bytes a byte loop unrolled by four beats making Uint32Array views for the word
// loop (measured on Node 20: the crossover is near 200 bytes).
const WORD_LOOP_MIN = 192;

/**
 * From this many bytes the bulk backend masks. Measured on Node 20 (x86-64): the WebAssembly
 * routine, copies in and out included, ties the JS loops at 64 bytes and is 2.5× faster at 256.
 */
export const BULK_MIN = 128;

// The WebAssembly routine works on its own memory: a piece of the payload is copied in, masked
// there, and copied out. 32 KiB pieces stay in the L1/L2 caches between the three passes.
const PIECE = 32 * 1024;

/**
 * Masks `source` (every byte of the view) into `target` from `targetStart`, with `key`: exactly
 * 4 bytes, already rotated to the payload's phase. `source` may share memory with the target
 * range (masking in place).
 */
type BulkMask = (source: Uint8Array, target: Uint8Array, targetStart: number, key: Uint8Array) => void;

/** The bulk backends, by name. */
export type MaskBackend = 'native' | 'wasm' | 'js';

// Chosen on first use (undefined until then); null means the JS loops do all sizes.
let bulk: BulkMask | null | undefined;
let bulkName: MaskBackend = 'js';
// The key, rotated, for the bulk backends (which take it as a 4-byte view).
const rotated = new Uint8Array(4);

/** `http.websocketMask`, Node's native masking, where this Node has it. */
function nativeBackend(): BulkMask | null {
  // Added in Node 26; loading node:http on older versions (a few ms) would find nothing.
  if (Number(process.versions.node.split('.')[0]) < 26) return null;
  const http = require('node:http') as {
    websocketMask?: (source: Uint8Array, mask: Uint8Array, output: Uint8Array, offset: number, length: number) => void;
  };
  const websocketMask = http.websocketMask;
  if (typeof websocketMask !== 'function') return null;
  return (source, target, targetStart, key) => websocketMask(source, key, target, targetStart, source.length);
}

/** What this module needs of the WebAssembly namespace (the lib has no DOM types). */
interface WasmNamespace {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => {
    exports: { memory: { buffer: ArrayBuffer }; mask: (at: number, length: number, key: number) => void };
  };
}

/** The WebAssembly SIMD routine, or null where WebAssembly (or its SIMD) is unavailable. */
function wasmBackend(): BulkMask | null {
  const wasm = (globalThis as { WebAssembly?: WasmNamespace }).WebAssembly;
  if (wasm === undefined) return null;
  let exports;
  try {
    exports = new wasm.Instance(new wasm.Module(Buffer.from(MASK_WASM_BASE64, 'base64'))).exports;
  } catch {
    // No SIMD on this CPU or engine: the JS loops remain.
    return null;
  }
  const mask = exports.mask;
  // The memory has a fixed size, so this view is never detached by a grow.
  const memory = new Uint8Array(exports.memory.buffer);
  const whole = memory.subarray(0, PIECE);
  return (source, target, targetStart, key) => {
    // WebAssembly memory is little-endian whatever the host: key byte 0 goes in the low bits.
    const word = key[0] | (key[1] << 8) | (key[2] << 16) | (key[3] << 24);
    const length = source.length;
    // Every piece but the last is a multiple of 4 bytes long, so each starts at phase 0.
    for (let offset = 0; offset < length; offset += PIECE) {
      const n = length - offset < PIECE ? length - offset : PIECE;
      memory.set(n === length ? source : source.subarray(offset, offset + n));
      mask(0, n, word);
      target.set(n === PIECE ? whole : memory.subarray(0, n), targetStart + offset);
    }
  };
}

function chooseBackend(): BulkMask | null {
  bulk = nativeBackend();
  bulkName = 'native';
  if (bulk === null) {
    bulk = wasmBackend();
    bulkName = bulk === null ? 'js' : 'wasm';
  }
  return bulk;
}

/** The bulk backend in use (choosing it, if no payload has needed it yet). */
export function maskBackend(): MaskBackend {
  if (bulk === undefined) chooseBackend();
  return bulkName;
}

/**
 * @internal For tests: makes `name` the bulk backend if this runtime has it, and says whether
 * it did; otherwise the backend is left as it was.
 */
export function selectMaskBackend(name: MaskBackend): boolean {
  const chosen = name === 'native' ? nativeBackend() : name === 'wasm' ? wasmBackend() : null;
  if (name !== 'js' && chosen === null) return false;
  bulk = chosen;
  bulkName = name;
  return true;
}

/**
 * XORs `length` bytes of `data` from `start` with `key`, in place, as if the key's cycle began
 * `phase` bytes before `start` (so a payload can be unmasked piece by piece). Works on 32-bit
 * words where the bytes are aligned for it, since a byte loop is about four times slower.
 * @see RFC 6455 §5.3
 */
export function maskInPlace(
  data: Uint8Array,
  key: Uint8Array,
  keyOffset = 0,
  start = 0,
  length = data.length - start,
  phase = 0,
): void {
  if (length >= BULK_MIN && (bulk === undefined ? chooseBackend() : bulk) !== null) {
    // Copied first: the key may sit in `data`, just before the payload.
    for (let i = 0; i < 4; i++) rotated[i] = key[keyOffset + ((phase + i) & 3)];
    (bulk as BulkMask)(data.subarray(start, start + length), data, start, rotated);
    return;
  }
  const k0 = key[keyOffset];
  const k1 = key[keyOffset + 1];
  const k2 = key[keyOffset + 2];
  const k3 = key[keyOffset + 3];
  let i = start;
  const end = start + length;
  let j = phase;
  if (length < WORD_LOOP_MIN) {
    // The key rotated to the phase, four bytes per step.
    const a = key[keyOffset + (phase & 3)];
    const b = key[keyOffset + ((phase + 1) & 3)];
    const c = key[keyOffset + ((phase + 2) & 3)];
    const d = key[keyOffset + ((phase + 3) & 3)];
    for (const stop = start + (length & ~3); i < stop; i += 4) {
      data[i] ^= a;
      data[i + 1] ^= b;
      data[i + 2] ^= c;
      data[i + 3] ^= d;
    }
    j += length & ~3;
  } else {
    // Bytes before the first 4-byte boundary of the underlying memory, one at a time.
    const lead = (4 - ((data.byteOffset + i) & 3)) & 3;
    for (const stop = i + lead; i < stop; i++, j++) {
      const m = j & 3;
      data[i] ^= m === 0 ? k0 : m === 1 ? k1 : m === 2 ? k2 : k3;
    }
    const words = (end - i) >>> 2;
    const word = rotatedKey(k0, k1, k2, k3, j);
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] ^= word;
    i += words << 2;
    j += words << 2;
  }
  for (; i < end; i++, j++) {
    const m = j & 3;
    data[i] ^= m === 0 ? k0 : m === 1 ? k1 : m === 2 ? k2 : k3;
  }
}

/** The key as one native-endian word, rotated so that its byte `phase & 3` comes first in memory. */
function rotatedKey(k0: number, k1: number, k2: number, k3: number, phase: number): number {
  const shift = (phase & 3) << 3;
  const word = LITTLE_ENDIAN ? k0 | (k1 << 8) | (k2 << 16) | (k3 << 24) : (k0 << 24) | (k1 << 16) | (k2 << 8) | k3;
  if (shift === 0) return word;
  return LITTLE_ENDIAN ? (word >>> shift) | (word << (32 - shift)) : (word << shift) | (word >>> (32 - shift));
}

/**
 * Writes `source` XORed with the key into `target` at `targetStart`, in one pass: masking while
 * copying reads and writes each byte once, where a copy followed by {@link maskInPlace} does it
 * twice. The key cycle starts at the first byte, as a frame's payload does. `source` is not changed.
 * @see RFC 6455 §5.3
 */
export function maskCopy(source: Uint8Array, target: Uint8Array, targetStart: number, key: Uint8Array, keyOffset: number): void {
  const length = source.length;
  if (length >= BULK_MIN && (bulk === undefined ? chooseBackend() : bulk) !== null) {
    for (let i = 0; i < 4; i++) rotated[i] = key[keyOffset + i];
    (bulk as BulkMask)(source, target, targetStart, rotated);
    return;
  }
  const k0 = key[keyOffset];
  const k1 = key[keyOffset + 1];
  const k2 = key[keyOffset + 2];
  const k3 = key[keyOffset + 3];
  let i = 0;
  if (length >= WORD_LOOP_MIN) {
    const sourceAt = source.byteOffset;
    const targetAt = target.byteOffset + targetStart;
    if (((sourceAt ^ targetAt) & 3) !== 0) {
      // Word views need both sides on 4-byte boundaries; a fast memcpy then words in place wins
      // over a byte loop here.
      target.set(source, targetStart);
      maskInPlace(target, key, keyOffset, targetStart, length, 0);
      return;
    }
    const lead = (4 - (sourceAt & 3)) & 3;
    for (; i < lead; i++) {
      const m = i & 3;
      target[targetStart + i] = source[i] ^ (m === 0 ? k0 : m === 1 ? k1 : m === 2 ? k2 : k3);
    }
    const words = (length - i) >>> 2;
    const word = rotatedKey(k0, k1, k2, k3, i);
    const from = new Uint32Array(source.buffer, sourceAt + i, words);
    const to = new Uint32Array(target.buffer, targetAt + i, words);
    for (let w = 0; w < words; w++) to[w] = from[w] ^ word;
    i += words << 2;
  } else {
    // Short payloads: four bytes per step, no views.
    for (const stop = length & ~3; i < stop; i += 4) {
      const t = targetStart + i;
      target[t] = source[i] ^ k0;
      target[t + 1] = source[i + 1] ^ k1;
      target[t + 2] = source[i + 2] ^ k2;
      target[t + 3] = source[i + 3] ^ k3;
    }
  }
  for (; i < length; i++) {
    const m = i & 3;
    target[targetStart + i] = source[i] ^ (m === 0 ? k0 : m === 1 ? k1 : m === 2 ? k2 : k3);
  }
}
