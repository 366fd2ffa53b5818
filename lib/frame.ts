/**
 * Frame writing and masking: the sending half of the RFC 6455 engine. Pure: returns buffers and
 * never writes to a socket.
 * @see RFC 6455 §5.2, §5.3
 */
import { randomFillSync } from 'node:crypto';
import { EMPTY, Opcode } from './constants';
import { maskCopy } from './mask';

// Masking itself lives in mask.ts; these re-exports keep frame.ts the one import for framing.
export { maskCopy, maskInPlace } from './mask';

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

/** What {@link encodeFrame} needs to know about one frame. */
export interface FrameOptions {
  /** FIN bit: true for the last (or only) frame of a message. Default true. */
  fin?: boolean;
  /** RSV1 bit, used by permessage-deflate. Default false. */
  rsv1?: boolean;
  /** Mask the payload (client to server). A fresh key comes from `maskPool`. */
  mask?: MaskPool;
}

// Masked payloads up to this size share one piece of memory with their head, carved from a
// module-level slab: two views of a slab cost less than two allocations (as Buffer's own pool
// does for allocUnsafe, a slab lives until its last frame is collected).
const SHARED_BUFFER_MAX = 1024;
const SLAB_SIZE = 8192;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabOffset = 0;

/** Reserves `size` bytes of the slab and returns their offset, 8-byte aligned for word masking. */
function takeFromSlab(size: number): number {
  if (slabOffset + size > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabOffset = 0;
  }
  const at = slabOffset;
  slabOffset = (at + size + 7) & ~7;
  return at;
}

/** The size of a frame head for a payload of `length` bytes, with room for a mask key if `masked`. */
export function frameHeadSize(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Writes a frame head into `target` at `offset`, drawing a mask key from `mask` if given, and
 * returns where the payload starts (the key is the 4 bytes before it).
 * @see RFC 6455 §5.2
 */
export function writeFrameHead(
  target: Uint8Array,
  offset: number,
  opcode: Opcode,
  length: number,
  mask: MaskPool | undefined,
  fin = true,
  rsv1 = false,
): number {
  target[offset] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = mask === undefined ? 0 : 0x80;
  let o = offset + 2;
  if (length < 126) {
    target[offset + 1] = maskBit | length;
  } else if (length < 0x10000) {
    target[offset + 1] = maskBit | 126;
    target[o++] = length >>> 8;
    target[o++] = length & 0xff;
  } else {
    target[offset + 1] = maskBit | 127;
    const high = Math.floor(length / 0x100000000);
    const low = length >>> 0;
    target[o++] = high >>> 24;
    target[o++] = (high >>> 16) & 0xff;
    target[o++] = (high >>> 8) & 0xff;
    target[o++] = high & 0xff;
    target[o++] = low >>> 24;
    target[o++] = (low >>> 16) & 0xff;
    target[o++] = (low >>> 8) & 0xff;
    target[o++] = low & 0xff;
  }
  if (mask === undefined) return o;
  mask.next(target, o);
  return o + 4;
}

/**
 * Writes one whole masked frame (head, key, masked copy of `payload`) into `target` at `offset`
 * and returns the offset after it. `target` needs {@link frameHeadSize} + `payload.length` bytes
 * free; `payload` is not changed. Used to build many small frames into one buffer.
 * @see RFC 6455 §5.2, §5.3
 */
export function writeMaskedFrame(
  target: Uint8Array,
  offset: number,
  opcode: Opcode,
  payload: Uint8Array,
  mask: MaskPool,
  fin = true,
  rsv1 = false,
): number {
  const start = writeFrameHead(target, offset, opcode, payload.length, mask, fin, rsv1);
  maskCopy(payload, target, start, target, start - 4);
  return start + payload.length;
}

/**
 * Encodes one frame as `[head, payload]`, so the two can be written with writev and nothing is
 * concatenated. When masking, the payload returned is a masked copy: the caller's bytes are
 * never changed. Without masking, the caller's buffer is returned as it is.
 * @see RFC 6455 §5.2
 */
export function encodeFrame(opcode: Opcode, payload: Uint8Array, options: FrameOptions = {}): [Buffer, Uint8Array] {
  const length = payload.length;
  const mask = options.mask;
  const fin = options.fin !== false;
  const rsv1 = options.rsv1 === true;
  const headSize = frameHeadSize(length, mask !== undefined);
  if (mask === undefined) {
    const head = Buffer.allocUnsafe(headSize);
    writeFrameHead(head, 0, opcode, length, undefined, fin, rsv1);
    return [head, payload];
  }
  if (length <= SHARED_BUFFER_MAX) {
    const at = takeFromSlab(headSize + length);
    const memory = slab;
    const head = Buffer.from(memory, at, headSize);
    writeFrameHead(head, 0, opcode, length, mask, fin, rsv1);
    if (length === 0) return [head, EMPTY];
    const out = new Uint8Array(memory, at + headSize, length);
    maskCopy(payload, out, 0, head, headSize - 4);
    return [head, out];
  }
  const head = Buffer.allocUnsafe(headSize);
  writeFrameHead(head, 0, opcode, length, mask, fin, rsv1);
  // allocUnsafe memory is 8-byte aligned, so an aligned payload is masked on whole words.
  const out = Buffer.allocUnsafe(length);
  maskCopy(payload, out, 0, head, headSize - 4);
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
