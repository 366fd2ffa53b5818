/**
 * Frame writing and masking: the sending half of the RFC 6455 engine. Pure: returns buffers and
 * never writes to a socket.
 * @see RFC 6455 §5.2, §5.3
 */
import { randomFillSync } from 'node:crypto';
import { endianness } from 'node:os';
import { EMPTY, Opcode } from './constants';

const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * A source of 4-byte masking keys. Keys come from the CSPRNG in 8 KiB batches, because one
 * `randomFillSync` call per frame costs more than the rest of framing a small message.
 * @see RFC 6455 §5.3 ("strong source of entropy")
 */
export class MaskPool {
  #pool = Buffer.allocUnsafeSlow(8192);
  #offset = 8192;
  readonly #fill: (target: Buffer) => void;

  /** `fill` is for tests that need reproducible keys; it defaults to `crypto.randomFillSync`. */
  constructor(fill: (target: Buffer) => void = randomFillSync) {
    this.#fill = fill;
  }

  /** Writes the next key into `target` at `offset`. */
  next(target: Uint8Array, offset: number): void {
    if (this.#offset === this.#pool.length) {
      this.#fill(this.#pool);
      this.#offset = 0;
    }
    const o = this.#offset;
    const p = this.#pool;
    target[offset] = p[o];
    target[offset + 1] = p[o + 1];
    target[offset + 2] = p[o + 2];
    target[offset + 3] = p[o + 3];
    this.#offset = o + 4;
  }
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
  const k0 = key[keyOffset];
  const k1 = key[keyOffset + 1];
  const k2 = key[keyOffset + 2];
  const k3 = key[keyOffset + 3];
  let i = start;
  const end = start + length;
  // Bytes before the first 4-byte boundary of the underlying memory, one at a time.
  const abs = data.byteOffset + i;
  let lead = (4 - (abs & 3)) & 3;
  if (lead > end - i) lead = end - i;
  let j = phase;
  for (const stop = i + lead; i < stop; i++, j++) {
    const m = j & 3;
    data[i] ^= m === 0 ? k0 : m === 1 ? k1 : m === 2 ? k2 : k3;
  }
  const words = (end - i) >>> 2;
  if (words > 0) {
    // The key as one word, rotated so that its byte (j & 3) lines up with byte i.
    const shift = (j & 3) << 3;
    let word = LITTLE_ENDIAN ? k0 | (k1 << 8) | (k2 << 16) | (k3 << 24) : (k0 << 24) | (k1 << 16) | (k2 << 8) | k3;
    if (shift !== 0) word = LITTLE_ENDIAN ? (word >>> shift) | (word << (32 - shift)) : (word << shift) | (word >>> (32 - shift));
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

/** What {@link encodeFrame} needs to know about one frame. */
export interface FrameOptions {
  /** FIN bit: true for the last (or only) frame of a message. Default true. */
  fin?: boolean;
  /** RSV1 bit, used by permessage-deflate. Default false. */
  rsv1?: boolean;
  /** Mask the payload (client to server). A fresh key comes from `maskPool`. */
  mask?: MaskPool;
}

/**
 * Encodes one frame as `[head, payload]`, so the two can be written with writev and nothing is
 * concatenated. When masking, the payload returned is a masked copy: the caller's bytes are
 * never changed. Without masking, the caller's buffer is returned as it is.
 * @see RFC 6455 §5.2
 */
export function encodeFrame(opcode: Opcode, payload: Uint8Array, options: FrameOptions = {}): [Buffer, Uint8Array] {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const mask = options.mask;
  const head = Buffer.allocUnsafe(2 + lengthBytes + (mask ? 4 : 0));
  head[0] = (options.fin === false ? 0 : 0x80) | (options.rsv1 ? 0x40 : 0) | opcode;
  const maskBit = mask ? 0x80 : 0;
  if (lengthBytes === 0) {
    head[1] = maskBit | length;
  } else if (lengthBytes === 2) {
    head[1] = maskBit | 126;
    head.writeUInt16BE(length, 2);
  } else {
    head[1] = maskBit | 127;
    head.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    head.writeUInt32BE(length >>> 0, 6);
  }
  if (!mask) return [head, payload];
  const keyOffset = 2 + lengthBytes;
  mask.next(head, keyOffset);
  if (length === 0) return [head, EMPTY];
  // allocUnsafe memory is 8-byte aligned, so masking the copy runs on whole words.
  const out = Buffer.allocUnsafe(length);
  out.set(payload);
  maskInPlace(out, head, keyOffset);
  return [head, out];
}

/**
 * Builds the body of a Close frame: nothing, or the code followed by the UTF-8 reason.
 * @see RFC 6455 §5.5.1
 */
export function encodeCloseBody(code?: number, reason?: Uint8Array): Buffer {
  if (code === undefined) return EMPTY;
  const body = Buffer.allocUnsafe(2 + (reason ? reason.length : 0));
  body.writeUInt16BE(code, 0);
  if (reason) body.set(reason, 2);
  return body;
}
