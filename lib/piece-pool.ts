/**
 * Buffers of one size for the masked pieces of large outgoing payloads, taken when a piece is
 * masked and given back once the socket is done with it. Pure: it never writes.
 *
 * Why: a fresh multi-megabyte buffer per message costs a page fault per 4 KiB (the kernel zeroes
 * each page on first touch), and its external memory drives V8 into full collections; reused
 * pieces are already mapped, often still in the cache. Memory kept here is bounded by `maxFree`.
 * @see RFC 6455 §5.3 (every client payload is masked, so every one is copied once)
 */

/** The size of every piece: a multiple of 4, so each piece starts the key cycle afresh. */
export const PIECE_SIZE = 64 * 1024;

/** A free list of {@link PIECE_SIZE}-byte buffers. */
export class PiecePool {
  readonly #free: Buffer[] = [];
  readonly #maxFree: number;

  /** Keeps at most `maxFree` pieces that nobody uses. */
  constructor(maxFree: number) {
    this.#maxFree = maxFree;
  }

  /** A piece: a free one (its bytes are whatever they were), else a new one. */
  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(PIECE_SIZE);
  }

  /** Takes `pieces` back; the caller must not use them again. */
  give(pieces: readonly Buffer[]): void {
    const free = this.#free;
    for (let i = 0; i < pieces.length && free.length < this.#maxFree; i++) free.push(pieces[i]);
  }

  /** How many free pieces are kept now. */
  get free(): number {
    return this.#free.length;
  }
}
