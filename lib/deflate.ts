/**
 * permessage-deflate's codec: one per connection that negotiated the extension. It inflates the
 * payloads of compressed messages piece by piece as they arrive, never producing more than the
 * caller's budget, and compresses outgoing messages. Both directions run synchronously, on the
 * zlib stream that Node's own `zlib.*Sync` functions drive, and both allocate it only when
 * the first compressed message needs it.
 * @see RFC 7692 §7.2
 */
import * as zlib from 'node:zlib';
import { CloseCode } from './constants';
import type { DeflateParams } from './extensions';
import type { Failure, MessageDecompressor } from './parser';
import { settings } from './settings';

const Z_SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH;

// RFC 7692 §7.2.1: the empty stored block that ends a sync flush; the sender removes it and the
// receiver appends it again (§7.2.2).
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
// RFC 7692 §7.2.3.6: an empty message, compressed: one empty stored block with its LEN and NLEN
// removed. zlib writes nothing for a flush right after another one, so we send this instead.
const EMPTY_BLOCK = Buffer.from([0x00]);

/**
 * The compression level of outgoing messages. On the benchmark's 64 KiB JSON feed, level 1
 * compresses at about 210 MB/s to 0.19 of the size, zlib's default (6) at about 70 MB/s to 0.14
 * (levels 2 and 3: 0.18 at 180 MB/s, 0.17 at 125 MB/s); three times the speed for a third more
 * bytes is what keeps compressing cheap next to the rest of sending.
 */
const LEVEL = 1;
/** zlib's default memLevel: a 64 KiB hash table and a 64 KiB literal buffer. */
const MEM_LEVEL = 8;

// Output goes first into one scratch buffer shared by every codec of this realm (zlib runs
// synchronously, so no two calls overlap); small results are then copied out at their size.
const SCRATCH_SIZE = 64 * 1024;
let scratch: Buffer | null = null;

/**
 * The synchronous side of Node's zlib binding: `writeSync(flush, in, inOff, inLen, out, outOff,
 * outLen)`, reporting the output and input left in the stream's `_writeState` ([availOut,
 * availIn]). It is what `zlib.inflateRawSync` and friends run on. Node's public streaming API
 * is asynchronous only (a thread-pool round trip per write and per flush, about 35 µs for a 64 B
 * message against 1 µs here), its one-shot sync functions cannot continue a DEFLATE stream
 * across the frames of a message, and the sync branch of a stream's `_processChunk` closes the
 * stream after one call; so this is the one way to inflate piece by piece, checking UTF-8 and
 * the size limit as bytes arrive, without waiting for a worker thread. Present and
 * identical in Node 18 to 26; {@link deflateAvailable} checks it once, and without it we offer no
 * extension at all.
 */
interface NativeZlib {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
}

/** One raw DEFLATE stream (an InflateRaw or DeflateRaw) driven synchronously. */
class RawStream {
  readonly #stream: zlib.InflateRaw | zlib.DeflateRaw;
  readonly #handle: NativeZlib;
  readonly #state: Uint32Array;
  #failed = false;

  constructor(stream: zlib.InflateRaw | zlib.DeflateRaw) {
    const internals = stream as unknown as { _handle?: NativeZlib | null; _writeState?: Uint32Array };
    this.#stream = stream;
    this.#handle = internals._handle as NativeZlib;
    this.#state = internals._writeState as Uint32Array;
    // A zlib error destroys the stream, which then emits 'error' on a later tick: we have read
    // the error already (see run), so the event needs a listener only to not crash the process.
    stream.on('error', ignore);
  }

  /** Output space left after the last {@link run}. */
  get availOut(): number {
    return this.#state[0];
  }

  /** Input left unconsumed by the last {@link run}. */
  get availIn(): number {
    return this.#state[1];
  }

  /**
   * Runs `input[inOff, inOff + inLen)` through zlib into `out[outOff, outOff + outLen)`. Returns
   * null, or zlib's message when the data is invalid (the stream is then unusable).
   */
  run(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): string | null {
    if (this.#failed) return 'the stream already failed';
    this.#handle.writeSync(flush, input, inOff, inLen, out, outOff, outLen);
    // Node reports a zlib error by destroying the stream (its handle is then gone).
    if ((this.#stream as unknown as { _handle: unknown })._handle === null) {
      this.#failed = true;
      return this.#stream.errored?.message ?? 'zlib error';
    }
    return null;
  }

  /** Starts a new DEFLATE stream with an empty window. */
  reset(): void {
    if (!this.#failed) this.#stream.reset();
  }

  close(): void {
    this.#failed = true;
    this.#stream.close();
  }
}

function ignore(): void {}

let available: boolean | null = null;

/**
 * Whether this Node's zlib can be driven as {@link NativeZlib} describes: checked once, by
 * inflating RFC 7692 §7.2.3.1's example. Without it, the client offers no extension.
 */
export function deflateAvailable(): boolean {
  if (available !== null) return available;
  available = false;
  try {
    const stream = zlib.createInflateRaw({ chunkSize: zlib.constants.Z_MIN_CHUNK });
    const internals = stream as unknown as { _handle?: { writeSync?: unknown } | null; _writeState?: unknown };
    const state = internals._writeState;
    if (typeof internals._handle?.writeSync === 'function' && ArrayBuffer.isView(state) && (state as Uint32Array).length === 2) {
      const raw = new RawStream(stream);
      const input = Buffer.from([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff]);
      const out = Buffer.alloc(16);
      available = raw.run(Z_SYNC_FLUSH, input, 0, input.length, out, 0, out.length) === null && raw.availIn === 0 && out.toString('latin1', 0, out.length - raw.availOut) === 'Hello';
      raw.close();
    } else {
      stream.close();
    }
  } catch {
    available = false;
  }
  return available;
}

/** How a codec is set up, besides the agreed parameters. */
export interface DeflateOptions {
  /** Messages shorter than this many bytes are sent uncompressed. */
  readonly threshold: number;
}

// Codecs that hold zlib streams, and the timer that frees those left unused (see sweepIdle).
const live = new Set<PerMessageDeflate>();
let sweeper: NodeJS.Timeout | null = null;

/**
 * Frees the zlib streams of every codec that was not used since the previous sweep, keeping
 * what they need to go on (see {@link PerMessageDeflate}). Runs every `settings.deflateIdleMs`
 * while any codec holds a stream, so a stream goes between one and two periods after its last
 * use. Exported for tests.
 */
export function sweepIdle(): void {
  for (const codec of live) if (codec.releaseIfIdle()) live.delete(codec);
  if (live.size === 0 && sweeper !== null) {
    clearInterval(sweeper);
    sweeper = null;
  }
}

function markLive(codec: PerMessageDeflate): void {
  live.add(codec);
  // Unref'd, as all our timers: it never keeps a process alive.
  sweeper ??= setInterval(sweepIdle, settings.deflateIdleMs).unref();
}

/**
 * The codec of one connection: {@link decompress} for the parser, {@link compress} for the send
 * path.
 *
 * Memory. A zlib deflate stream holds about 256 KiB and an inflate stream about 40 KiB, far more
 * than the rest of a connection (3 KB), so neither is made before the first compressed message
 * needs it, and both are freed again after a period without use (the sweep above). Context
 * takeover survives that: the codec keeps the last window's worth of what it sent and received
 * (usually much less: the messages so far), and primes the next zlib stream with it as a preset
 * dictionary (RFC 1951's window, as zlib's deflateSetDictionary and inflateSetDictionary set
 * it). Copying those bytes costs a few percent of compressing them; an idle connection then
 * holds only them.
 * @see RFC 7692 §7.2
 */
export class PerMessageDeflate implements MessageDecompressor {
  readonly #params: DeflateParams;
  readonly #threshold: number;
  #inflater: RawStream | null = null;
  #deflater: RawStream | null = null;
  // The tails of the streams received and sent, for context takeover across a release; null
  // when the agreed parameters reset that direction after every message anyway.
  readonly #received: Tail | null;
  readonly #sent: Tail | null;
  #used = false; // since the last sweep
  #midMessage = false; // the inflater is part-way through a compressed message
  #failure: Failure | null = null;
  #closed = false;

  constructor(params: DeflateParams, options: DeflateOptions) {
    this.#params = params;
    this.#threshold = options.threshold;
    this.#received = params.serverNoContextTakeover ? null : new Tail(1 << params.serverMaxWindowBits);
    this.#sent = params.clientNoContextTakeover ? null : new Tail(1 << params.clientMaxWindowBits);
  }

  /** @inheritdoc */
  get failure(): Failure | null {
    return this.#failure;
  }

  /** Whether a zlib stream is held (for tests). */
  get holdsZlib(): boolean {
    return this.#inflater !== null || this.#deflater !== null;
  }

  /**
   * Inflates the next piece of a compressed message's payload; at the message's end (`last`)
   * the empty stored block that the sender removed is appended again (RFC 7692 §7.2.2). Appends
   * what the piece inflated to to `out` and returns its size; returns -1 when the data is
   * invalid (1007) or would inflate to more than `budget` bytes (1009), with {@link failure}
   * saying which. zlib never writes more than `budget` + 1 bytes, and they go straight into
   * `out`, so a bomb costs at most the limit.
   * @see RFC 7692 §7.2.2
   */
  decompress(piece: Buffer, last: boolean, budget: number, out: Buffer[]): number {
    if (this.#closed) {
      this.#failure ??= { closeCode: CloseCode.INTERNAL_ERROR, message: 'permessage-deflate used after the connection closed' };
      return -1;
    }
    this.#used = true;
    this.#inflater ??= this.#newInflater(true);
    const first = out.length;
    const output = new Output(budget, out);
    if (piece.length > 0 && !this.#inflate(piece, false, output)) return -1;
    if (last) {
      if (!this.#inflate(TAIL, true, output)) return -1;
      // RFC 7692 §7.1.1.1: without context takeover the server starts every message afresh.
      if (this.#params.serverNoContextTakeover) this.#inflater?.reset();
    }
    const produced = output.finish();
    if (this.#received !== null && produced > 0) this.#received.pushPieces(out, first);
    this.#midMessage = !last;
    return produced;
  }

  #newInflater(withContext: boolean): RawStream {
    markLive(this);
    const dictionary = withContext ? this.#received?.bytes() : undefined;
    return new RawStream(
      zlib.createInflateRaw({
        windowBits: this.#params.serverMaxWindowBits,
        chunkSize: zlib.constants.Z_MIN_CHUNK,
        dictionary: dictionary !== undefined && dictionary.length > 0 ? dictionary : undefined,
      }),
    );
  }

  /**
   * Feeds `input` to the inflater, into `out`; false (with #failure set) on failure. `isTail`:
   * the input is the appended empty stored block.
   */
  #inflate(input: Buffer, isTail: boolean, out: Output): boolean {
    let inflater = this.#inflater as RawStream;
    let inOff = 0;
    let inLen = input.length;
    let restarted = false;
    for (;;) {
      out.prepare();
      const room = out.room;
      const error = inflater.run(Z_SYNC_FLUSH, input, inOff, inLen, out.buffer, out.at, room);
      if (error !== null) return this.#fail(CloseCode.INVALID_PAYLOAD, `invalid compressed data (permessage-deflate): ${error}`);
      const produced = room - inflater.availOut;
      const consumed = inLen - inflater.availIn;
      inOff += consumed;
      inLen -= consumed;
      if (!out.wrote(produced)) {
        return this.#fail(CloseCode.MESSAGE_TOO_BIG, `message inflates to more than the ${out.budget} bytes left under the size limit`);
      }
      // Output space ran out: zlib may hold more; give it more room.
      if (inflater.availOut === 0) continue;
      if (inLen === 0) return true;
      // Room to spare and input left over: a block with BFINAL set has ended the DEFLATE
      // stream. RFC 7692 §7.2.1 lets more blocks follow in the same message; as in Chromium,
      // they start a new stream, with an empty window. The appended tail after a final block
      // is no block at all (it would start a stored block that never ends), so it is dropped.
      inflater.close();
      this.#received?.clear();
      inflater = this.#inflater = this.#newInflater(false);
      if (isTail) return true;
      // A fresh stream takes at least one byte of input or reports an error.
      if (restarted && consumed === 0) return this.#fail(CloseCode.INVALID_PAYLOAD, 'invalid compressed data (permessage-deflate): no progress');
      restarted = consumed === 0;
    }
  }

  #fail(closeCode: number, message: string): false {
    this.#failure = { closeCode, message };
    this.close();
    return false;
  }

  /**
   * Compresses a whole message for one frame with RSV1 set, or returns null when it goes
   * uncompressed (shorter than the threshold). The result is valid until the next call.
   * @see RFC 7692 §7.2.1
   */
  compress(data: Uint8Array): Buffer | null {
    if (data.length < this.#threshold || this.#closed) return null;
    this.#used = true;
    const params = this.#params;
    const deflater = (this.#deflater ??= this.#newDeflater());
    const out = new Output(Number.MAX_SAFE_INTEGER, []);
    let inOff = 0;
    let inLen = data.length;
    for (;;) {
      out.prepare();
      const room = out.room;
      const error = deflater.run(Z_SYNC_FLUSH, data, inOff, inLen, out.buffer, out.at, room);
      if (error !== null) return this.#compressFailed();
      out.wrote(room - deflater.availOut);
      const consumed = inLen - deflater.availIn;
      inOff += consumed;
      inLen -= consumed;
      if (deflater.availOut !== 0 && inLen === 0) break;
    }
    // RFC 7692 §7.1.1.2: without context takeover the next message starts with an empty window.
    if (params.clientNoContextTakeover) deflater.reset();
    const compressed = out.peek();
    const n = compressed.length;
    // A sync flush always ends with the empty stored block, which is removed (§7.2.1 step 2);
    // zlib writes nothing at all for a flush right after another one.
    if (n !== 0 && (n < 4 || compressed[n - 4] !== 0x00 || compressed[n - 3] !== 0x00 || compressed[n - 2] !== 0xff || compressed[n - 1] !== 0xff)) {
      return this.#compressFailed();
    }
    this.#sent?.push(data);
    return n <= 4 ? EMPTY_BLOCK : compressed.subarray(0, n - 4);
  }

  #newDeflater(): RawStream {
    markLive(this);
    // zlib cannot make a raw DEFLATE stream with an 8-bit window and makes a 9-bit one instead.
    // Its matches never reach further back than the window minus 262 bytes (MAX_DIST), so a
    // 9-bit window never refers more than 250 bytes back, which fits the 256 bytes agreed.
    const bits = this.#params.clientMaxWindowBits;
    const dictionary = this.#sent?.bytes();
    return new RawStream(
      zlib.createDeflateRaw({
        windowBits: bits < 9 ? 9 : bits,
        level: LEVEL,
        memLevel: MEM_LEVEL,
        chunkSize: zlib.constants.Z_MIN_CHUNK,
        dictionary: dictionary !== undefined && dictionary.length > 0 ? dictionary : undefined,
      }),
    );
  }

  /**
   * Compressing valid input cannot fail, nor come out otherwise than a sync flush does; if zlib
   * did, this message goes uncompressed (RFC 7692 allows that for any message) and the next
   * ones start a new stream without context (which a sender may always do).
   */
  #compressFailed(): null {
    this.#deflater?.close();
    this.#deflater = null;
    this.#sent?.clear();
    return null;
  }

  /**
   * @internal The sweep: frees both zlib streams if the codec was not used since the previous
   * sweep (the inflater only between messages), and returns true once it holds none.
   */
  releaseIfIdle(): boolean {
    if (this.#used && !this.#closed) {
      this.#used = false;
      return false;
    }
    this.#deflater?.close();
    this.#deflater = null;
    this.#sent?.compact();
    // A message part-way through the inflater (a peer that paused inside one) needs that stream:
    // its state is more than the window a fresh one could be primed with.
    if (this.#midMessage && !this.#closed) return false;
    this.#inflater?.close();
    this.#inflater = null;
    this.#received?.compact();
    return true;
  }

  /** Frees both zlib streams; the codec is not used afterwards. */
  close(): void {
    this.#closed = true;
    live.delete(this);
    this.#inflater?.close();
    this.#inflater = null;
    this.#deflater?.close();
    this.#deflater = null;
  }
}

/**
 * The last bytes of a stream, at most `limit` (the LZ77 window): what a fresh zlib stream is
 * primed with to continue where the freed one was. Kept in a buffer that grows to the window
 * and 4 KiB more, so that small messages append with one copy and the window moves to the
 * front once per 4 KiB.
 */
class Tail {
  readonly #limit: number;
  #buffer: Buffer = EMPTY_BYTES;
  #length = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Appends `data`. */
  push(data: Uint8Array): void {
    const n = data.length;
    if (n === 0) return;
    const limit = this.#limit;
    if (n >= limit) {
      if (this.#buffer.length < limit) this.#buffer = Buffer.allocUnsafe(limit + TAIL_SLACK);
      this.#buffer.set(data.subarray(n - limit), 0);
      this.#length = limit;
      return;
    }
    if (this.#length + n > this.#buffer.length) {
      // The old bytes still inside the window once `data` is added.
      const keep = Math.min(this.#length, limit - n);
      if (this.#buffer.length === limit + TAIL_SLACK) {
        // Full grown: move the bytes still in the window to the front (once per 4 KiB or so).
        this.#buffer.copyWithin(0, this.#length - keep, this.#length);
      } else {
        const grown = Buffer.allocUnsafe(Math.min(limit + TAIL_SLACK, Math.max(2 * this.#buffer.length, keep + n, 256)));
        this.#buffer.copy(grown, 0, this.#length - keep, this.#length);
        this.#buffer = grown;
      }
      this.#length = keep;
    }
    this.#buffer.set(data, this.#length);
    this.#length += n;
  }

  /** Appends the buffers `pieces[from..]`, skipping those that the last `limit` bytes do not reach. */
  pushPieces(pieces: readonly Buffer[], from: number): void {
    let start = pieces.length;
    for (let total = 0; start > from && total < this.#limit; ) total += pieces[--start].length;
    for (let i = start; i < pieces.length; i++) this.push(pieces[i]);
  }

  /** The last `limit` bytes or fewer, as a view valid until the next push. */
  bytes(): Buffer {
    const keep = Math.min(this.#length, this.#limit);
    return this.#buffer.subarray(this.#length - keep, this.#length);
  }

  /** Forgets everything (the stream started afresh). */
  clear(): void {
    this.#buffer = EMPTY_BYTES;
    this.#length = 0;
  }

  /** Keeps only the bytes that matter, in memory of their exact size (for an idle connection). */
  compact(): void {
    const bytes = this.bytes();
    this.#buffer = bytes.length === 0 ? EMPTY_BYTES : Buffer.from(bytes);
    this.#length = this.#buffer.length;
  }
}

const EMPTY_BYTES = Buffer.alloc(0);
const TAIL_SLACK = 4 * 1024;

/**
 * The output of one inflate or deflate call: the shared scratch buffer first, then buffers of
 * its own once that is full, each no larger than the budget allows (so a decompression bomb
 * never makes zlib write more than `budget` + 1 bytes). Full buffers go to `pieces` as they fill.
 */
class Output {
  readonly budget: number;
  readonly #pieces: Buffer[];
  readonly #first: number; // where this call's pieces start in #pieces
  #buffer: Buffer;
  #offset = 0;
  #total = 0;
  // Set by prepare(): where the next bytes may go.
  buffer: Buffer;
  at = 0;
  room = 0;

  constructor(budget: number, pieces: Buffer[]) {
    this.budget = budget;
    this.#pieces = pieces;
    this.#first = pieces.length;
    this.#buffer = this.buffer = scratch ??= Buffer.allocUnsafeSlow(SCRATCH_SIZE);
  }

  /** Sets {@link buffer}, {@link at} and {@link room}: where the next bytes may go. */
  prepare(): void {
    if (this.#offset === this.#buffer.length) {
      // Full: keep what it holds and continue in a larger buffer of our own.
      this.#pieces.push(this.#buffer === scratch ? Buffer.from(this.#buffer) : this.#buffer);
      const size = Math.min(Math.max(this.#total, SCRATCH_SIZE), this.budget - this.#total + 1);
      this.#buffer = this.buffer = Buffer.allocUnsafe(size > 0 ? size : 1);
      this.#offset = 0;
    }
    const room = this.#buffer.length - this.#offset;
    // One byte past the budget is enough to know it was exceeded.
    const allowed = this.budget - this.#total + 1;
    this.at = this.#offset;
    this.room = room < allowed ? room : allowed;
  }

  /** Records `n` bytes written into the last {@link prepare}d space; false once over the budget. */
  wrote(n: number): boolean {
    this.#offset += n;
    this.#total += n;
    return this.#total <= this.budget;
  }

  /**
   * Ends the call: the bytes still in the current buffer join the pieces, in memory of their own
   * (Buffer.allocUnsafe gives 4 KiB and more an ArrayBuffer of their own, which the API can then
   * hand to the page without another copy). Returns the call's total.
   */
  finish(): number {
    const n = this.#offset;
    if (n > 0) {
      if (this.#buffer !== scratch) {
        this.#pieces.push(this.#buffer.subarray(0, n));
      } else {
        const copy = Buffer.allocUnsafe(n);
        this.#buffer.copy(copy, 0, 0, n);
        this.#pieces.push(copy);
      }
    }
    return this.#total;
  }

  /** All the output of a compress call, valid until the scratch buffer is used again. */
  peek(): Buffer {
    if (this.#pieces.length === this.#first) return this.#buffer.subarray(0, this.#offset);
    return Buffer.concat([...this.#pieces.slice(this.#first), this.#buffer.subarray(0, this.#offset)], this.#total);
  }
}
