/**
 * The streaming frame parser: the receiving half of the RFC 6455 engine. Pure: it is fed bytes,
 * reports what it finds to a {@link ParserSink}, never throws on peer input and never writes.
 * @see RFC 6455 §5
 */
import { CloseCode, Defaults, EMPTY, MAX_CONTROL_PAYLOAD, Opcode } from './constants';
import { maskInPlace } from './frame';
import { isUtf8, isValidWireCloseCode, Utf8StreamValidator } from './validation';

/** Receives what the parser finds, in stream order. */
export interface ParserSink {
  /**
   * A complete message, inflated if it came compressed (`compressed`). `data` may be a view of a
   * pushed chunk; it stays valid as long as the chunk does (the parser never writes into a chunk
   * after handing out a view of it). `borrowed`: `data` is a view of a chunk pushed as borrowed,
   * valid only until this returns. With `transientText`, the bytes of a text message may be
   * valid only until this returns too.
   */
  onMessage(isText: boolean, data: Buffer, compressed: boolean, borrowed?: boolean): void;
  /** A Ping; the connection answers with a Pong carrying the same `payload` (never borrowed). */
  onPing(payload: Buffer): void;
  /** A Pong. */
  onPong(payload: Buffer): void;
  /** A valid Close frame. `code` is 1005 when the frame had no body. The parser stops after it. */
  onClose(code: number, reason: string): void;
  /** A fault of the peer: the connection must be failed with `closeCode`. The parser stops. */
  onProtocolError(closeCode: number, message: string): void;
}

/** Why a {@link MessageDecompressor} gave up: the close code to fail with, and the rule broken. */
export interface Failure {
  readonly closeCode: number;
  readonly message: string;
}

/**
 * Inflates the payloads of compressed messages (those whose first frame has RSV1 set) when an
 * extension such as permessage-deflate was negotiated. The parser feeds it each piece of such a
 * payload as it arrives, in order, so that UTF-8 and the size limit are checked as the inflated
 * bytes appear.
 * @see RFC 7692 §6.2
 */
export interface MessageDecompressor {
  /**
   * Inflates the next `piece` of a compressed message; `last` at the end of its last frame.
   * Appends what it inflated to `out` (buffers the parser may keep), never more than `budget`
   * bytes, and returns how many; or returns -1 when it cannot, with the reason in
   * {@link failure}.
   */
  decompress(piece: Buffer, last: boolean, budget: number, out: Buffer[]): number;
  /** Why the last {@link decompress} returned -1. */
  readonly failure: Failure | null;
}

/** How a parser is set up. */
export interface ParserOptions {
  /** `client` rejects masked frames; `server` requires masking and unmasks in place. */
  role: 'client' | 'server';
  /** Largest message (sum of its frames' payloads, inflated) before failing with 1009. */
  maxMessageSize?: number;
  /**
   * The negotiated compression extension, if any: RSV1 then marks a compressed message. Without
   * one, any RSV bit fails the connection.
   */
  decompressor?: MessageDecompressor | null;
  /**
   * Text messages made of several pieces are joined into a buffer the parser reuses, instead of
   * one of their own: for a sink that decodes text at once (a fresh buffer per message would
   * only be garbage, and its allocation costs more than the copy).
   */
  transientText?: boolean;
}

const State = { HEAD: 0, LENGTH_16: 1, LENGTH_64: 2, MASK_KEY: 3, PAYLOAD: 4, STOPPED: 5 } as const;
type State = (typeof State)[keyof typeof State];

// Pieces of a message shorter than this are copied (into the staging buffer) rather than kept
// as views: a view costs about 100 bytes of object and may hold a whole socket chunk.
const SMALL_PIECE = 1024;
const STAGING_MIN = 256;
const STAGING_MAX = 16 * 1024;

/**
 * Parses a stream of WebSocket frames that arrives in chunks split at any byte.
 * Frames inside one chunk are handed out as views of it; bytes are copied only when a frame head
 * or a control frame spans chunks, and when a fragmented or chunk-spanning message is joined
 * (once, at its end).
 * @see RFC 6455 §5.2
 */
export class FrameParser {
  readonly #sink: ParserSink;
  readonly #server: boolean;
  readonly #transientText: boolean;
  readonly #maxMessageSize: number;
  readonly #decompressor: MessageDecompressor | null;

  #chunks: Buffer[] = [];
  #offset = 0; // read position in #chunks[0]
  #buffered = 0; // unread bytes across #chunks

  #state: State = State.HEAD;
  // The frame being read.
  #fin = false;
  #opcode = 0;
  #masked = false;
  #payloadLength = 0;
  #payloadRead = 0;
  #maskKey: Buffer = EMPTY;
  // The data message being assembled.
  #inMessage = false;
  #messageIsText = false;
  #messageLength = 0; // inflated bytes so far, for a compressed message
  #messageCompressed = false;
  #fragments: Buffer[] = [];
  // Small pieces are copied into this bump buffer instead of being kept as views, so that a
  // message sent as many tiny frames costs memory in proportion to its bytes, not its frames.
  #staging: Buffer | null = null;
  #stagingStart = 0; // where the run not yet in #fragments begins
  #stagingUsed = 0;
  // Made on the first text message that arrives in pieces; most never do.
  #utf8: Utf8StreamValidator | null = null;
  // While a borrowed chunk is being parsed: its memory, which nothing may keep after push().
  #borrowed: ArrayBufferLike | null = null;
  // A large unfragmented message from a borrowed chunk, copied in as its bytes arrive.
  #direct: Buffer | null = null;

  constructor(sink: ParserSink, options: ParserOptions) {
    this.#sink = sink;
    this.#server = options.role === 'server';
    this.#transientText = options.transientText === true;
    this.#maxMessageSize = options.maxMessageSize ?? Defaults.maxMessageSize;
    this.#decompressor = options.decompressor ?? null;
  }

  /** Whether the parser has stopped (after a Close frame or a protocol error). */
  get stopped(): boolean {
    return this.#state === State.STOPPED;
  }

  /**
   * Feeds the next bytes of the stream. In the server role the chunk's bytes are unmasked in
   * place, so the caller hands over ownership of it. `borrowed`: the chunk's memory is reused
   * once this returns (a socket's read buffer), so whatever the parser keeps of it is copied,
   * and messages that are views of it are handed to the sink as borrowed.
   */
  push(chunk: Buffer, borrowed = false): void {
    if (this.#state === State.STOPPED || chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    if (!borrowed) {
      this.#run();
      return;
    }
    const memory = chunk.buffer;
    this.#borrowed = memory;
    try {
      this.#run();
    } finally {
      this.#borrowed = null;
      // Unread bytes of the chunk (a frame head or payload cut by the read) are kept as a copy.
      // They may be in a view of it that #contiguous made, so look for its memory.
      const chunks = this.#chunks;
      for (let i = 0; i < chunks.length; i++) {
        if (chunks[i].buffer !== memory) continue;
        const start = i === 0 ? this.#offset : 0;
        chunks[i] = Buffer.from(chunks[i].subarray(start));
        if (i === 0) this.#offset = 0;
      }
    }
  }

  #run(): void {
    for (;;) {
      switch (this.#state) {
        case State.HEAD:
          if (!this.#readHead()) return;
          break;
        case State.LENGTH_16:
          if (!this.#readLength16()) return;
          break;
        case State.LENGTH_64:
          if (!this.#readLength64()) return;
          break;
        case State.MASK_KEY:
          if (this.#buffered < 4) return;
          this.#maskKey = this.#borrowed === null ? this.#consume(4) : Buffer.from(this.#consume(4));
          this.#state = State.PAYLOAD;
          break;
        case State.PAYLOAD:
          if (!this.#readPayload()) return;
          break;
        default:
          return;
      }
    }
  }

  /** Reads the 2-byte head and applies every rule that can be checked from it. */
  #readHead(): boolean {
    const head = this.#contiguous(2);
    if (head === null) return false;
    const b0 = head[this.#offset];
    const b1 = head[this.#offset + 1];
    this.#skip(2);

    this.#fin = (b0 & 0x80) !== 0;
    this.#opcode = b0 & 0x0f;
    this.#masked = (b1 & 0x80) !== 0;
    const length7 = b1 & 0x7f;

    // RFC 6455 §5.2: RSV1-3 MUST be 0 unless an extension defining them was negotiated.
    const rsv = b0 & 0x70;
    if (rsv !== 0 && !this.#allowedRsv(rsv)) return false;
    // RFC 6455 §5.1: a server MUST NOT mask its frames; a client MUST mask all of its frames.
    if (this.#masked !== this.#server) {
      return this.#fail(
        CloseCode.PROTOCOL_ERROR,
        this.#server ? 'unmasked frame from a client' : 'masked frame from a server',
      );
    }

    const opcode = this.#opcode;
    if (opcode >= 0x8) {
      // RFC 6455 §5.5: control frames are never fragmented and carry at most 125 bytes.
      if (opcode !== Opcode.CLOSE && opcode !== Opcode.PING && opcode !== Opcode.PONG) {
        return this.#fail(CloseCode.PROTOCOL_ERROR, `unknown control opcode 0x${opcode.toString(16)}`);
      }
      if (!this.#fin) return this.#fail(CloseCode.PROTOCOL_ERROR, 'fragmented control frame');
      if (length7 > MAX_CONTROL_PAYLOAD) {
        return this.#fail(CloseCode.PROTOCOL_ERROR, 'control frame with a payload over 125 bytes');
      }
    } else if (opcode === Opcode.CONTINUATION) {
      // RFC 6455 §5.4: a continuation frame continues a fragmented message, so one must be open.
      if (!this.#inMessage) return this.#fail(CloseCode.PROTOCOL_ERROR, 'continuation frame without a message to continue');
    } else if (opcode === Opcode.TEXT || opcode === Opcode.BINARY) {
      // RFC 6455 §5.4: fragments of one message are not interleaved with another data message.
      if (this.#inMessage) return this.#fail(CloseCode.PROTOCOL_ERROR, 'new data frame before the fragmented message ended');
      this.#inMessage = true;
      this.#messageIsText = opcode === Opcode.TEXT;
      this.#messageLength = 0;
      // RFC 7692 §6.1: RSV1 on the first frame of a message marks it compressed.
      this.#messageCompressed = rsv !== 0;
    } else {
      return this.#fail(CloseCode.PROTOCOL_ERROR, `unknown data opcode 0x${opcode.toString(16)}`);
    }

    if (length7 === 126) {
      this.#state = State.LENGTH_16;
    } else if (length7 === 127) {
      this.#state = State.LENGTH_64;
    } else {
      return this.#startPayload(length7);
    }
    return true;
  }

  /**
   * Checks RSV bits that are set (`rsv`, bits 4-6 of the first byte) against the extension in
   * use; fails the connection and returns false unless they are allowed.
   * @see RFC 6455 §5.2, RFC 7692 §6.1
   */
  #allowedRsv(rsv: number): boolean {
    if (this.#decompressor === null) return this.#fail(CloseCode.PROTOCOL_ERROR, 'RSV bits set, but no extension was negotiated');
    // permessage-deflate defines RSV1 only.
    if (rsv !== 0x40) return this.#fail(CloseCode.PROTOCOL_ERROR, 'RSV2 or RSV3 set; permessage-deflate defines only RSV1');
    // RFC 7692 §6.1: RSV1 goes on the first frame of a data message, never on a continuation
    // frame, and a control frame is never compressed (§6).
    if (this.#opcode >= 0x8) return this.#fail(CloseCode.PROTOCOL_ERROR, 'RSV1 set on a control frame; control frames are never compressed');
    if (this.#opcode === Opcode.CONTINUATION) {
      return this.#fail(CloseCode.PROTOCOL_ERROR, 'RSV1 set on a continuation frame; only the first frame of a message may carry it');
    }
    return true;
  }

  #readLength16(): boolean {
    const buf = this.#contiguous(2);
    if (buf === null) return false;
    const length = buf.readUInt16BE(this.#offset);
    this.#skip(2);
    return this.#startPayload(length);
  }

  #readLength64(): boolean {
    const buf = this.#contiguous(8);
    if (buf === null) return false;
    const high = buf.readUInt32BE(this.#offset);
    const low = buf.readUInt32BE(this.#offset + 4);
    this.#skip(8);
    // RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0.
    if (high >= 0x80000000) return this.#fail(CloseCode.PROTOCOL_ERROR, '64-bit payload length with its most significant bit set');
    // Above 2^53 the length is no longer an exact JS number; no limit allows that much anyway.
    if (high >= 0x200000) return this.#fail(CloseCode.MESSAGE_TOO_BIG, 'payload length over 2^53 bytes');
    return this.#startPayload(high * 0x100000000 + low);
  }

  /** Records the frame's payload length, enforces the size limit, and moves on. */
  #startPayload(length: number): boolean {
    this.#payloadLength = length;
    this.#payloadRead = 0;
    // A compressed message is limited by the size it inflates to, as it inflates.
    if (this.#opcode < 0x8 && !this.#messageCompressed) {
      const total = this.#messageLength + length;
      if (total > this.#maxMessageSize) {
        return this.#fail(
          CloseCode.MESSAGE_TOO_BIG,
          `message of ${total} bytes or more exceeds the limit of ${this.#maxMessageSize} bytes`,
        );
      }
      this.#messageLength = total;
    }
    this.#state = this.#server ? State.MASK_KEY : State.PAYLOAD;
    return true;
  }

  #readPayload(): boolean {
    if (this.#opcode >= 0x8) {
      // Control frames are small: wait for all of it.
      if (this.#buffered < this.#payloadLength) return false;
      const payload = this.#payloadLength === 0 ? EMPTY : this.#consume(this.#payloadLength);
      if (this.#server && payload.length !== 0) maskInPlace(payload, this.#maskKey);
      this.#state = State.HEAD;
      return this.#control(payload);
    }
    if (this.#messageCompressed) return this.#readCompressed();
    // A whole unfragmented message in the first chunk (the common case): one view, checked in
    // one go, with no piece list.
    if (this.#fin && this.#payloadRead === 0 && this.#fragments.length === 0 && this.#staging === null) {
      const length = this.#payloadLength;
      if (length === 0 || (this.#buffered >= length && this.#chunks[0].length - this.#offset >= length)) {
        const data = length === 0 ? EMPTY : this.#take(length);
        if (this.#server && length !== 0) maskInPlace(data, this.#maskKey);
        if (this.#messageIsText && !isUtf8(data)) return this.#fail(CloseCode.INVALID_PAYLOAD, 'text message is not valid UTF-8');
        this.#state = State.HEAD;
        this.#inMessage = false;
        this.#sink.onMessage(this.#messageIsText, data, false, this.#borrowed !== null && data.buffer === this.#borrowed);
        return true;
      }
    }
    // A large unfragmented message read from borrowed chunks is copied into a buffer of its own
    // as it arrives (its size is known from its head), instead of into copies that are joined at
    // the end. Not text for a transientText sink: that is joined into the shared buffer.
    if (
      this.#borrowed !== null &&
      this.#direct === null &&
      this.#fin &&
      this.#payloadRead === 0 &&
      this.#fragments.length === 0 &&
      this.#staging === null &&
      this.#payloadLength >= DIRECT_MIN &&
      this.#payloadLength <= DIRECT_MAX &&
      !(this.#messageIsText && this.#transientText)
    ) {
      this.#direct = Buffer.allocUnsafeSlow(this.#payloadLength);
    }
    const direct = this.#direct;
    // Data frames: take whatever has arrived, so UTF-8 is checked as the bytes come in.
    while (this.#payloadRead < this.#payloadLength) {
      if (this.#buffered === 0) return false;
      const piece = this.#take(this.#payloadLength - this.#payloadRead);
      if (this.#server) maskInPlace(piece, this.#maskKey, 0, 0, piece.length, this.#payloadRead);
      if (this.#messageIsText && !(this.#utf8 ??= new Utf8StreamValidator()).push(piece)) {
        return this.#fail(CloseCode.INVALID_PAYLOAD, 'text message is not valid UTF-8');
      }
      if (direct !== null) direct.set(piece, this.#payloadRead);
      else this.#keep(piece);
      this.#payloadRead += piece.length;
    }
    this.#state = State.HEAD;
    if (!this.#fin) return true;
    this.#endRun();
    this.#staging = null;
    if (this.#messageIsText && this.#utf8 !== null && !this.#utf8.end()) {
      return this.#fail(CloseCode.INVALID_PAYLOAD, 'text message ends inside a UTF-8 sequence');
    }
    this.#direct = null;
    const data =
      direct !== null ? direct : this.#messageIsText && this.#transientText ? joinText(this.#fragments, this.#messageLength) : joinFragments(this.#fragments, this.#messageLength);
    this.#fragments.length = 0;
    this.#inMessage = false;
    this.#sink.onMessage(this.#messageIsText, data, false);
    return true;
  }

  /**
   * The payload of a frame of a compressed message: each piece goes to the decompressor as it
   * arrives, and what it inflates to is checked (size, UTF-8) and kept, as for uncompressed
   * data. A message that inflates in one go is checked in one go.
   * @see RFC 7692 §6.2
   */
  #readCompressed(): boolean {
    const decompressor = this.#decompressor as MessageDecompressor;
    do {
      let piece: Buffer = EMPTY;
      if (this.#payloadRead < this.#payloadLength) {
        if (this.#buffered === 0) return false;
        piece = this.#take(this.#payloadLength - this.#payloadRead);
        if (this.#server) maskInPlace(piece, this.#maskKey, 0, 0, piece.length, this.#payloadRead);
        this.#payloadRead += piece.length;
      }
      const last = this.#fin && this.#payloadRead === this.#payloadLength;
      if (piece.length === 0 && !last) break;
      const fragments = this.#fragments;
      const before = fragments.length;
      // Nothing of this message kept yet (neither in the list nor staged).
      const first = before === 0 && this.#staging === null;
      const produced = decompressor.decompress(piece, last, this.#maxMessageSize - this.#messageLength, fragments);
      if (produced < 0) {
        const failure = decompressor.failure as Failure;
        // The decompressor knows the bytes left, not the limit: name the limit.
        if (failure.closeCode === CloseCode.MESSAGE_TOO_BIG) {
          return this.#fail(CloseCode.MESSAGE_TOO_BIG, `message inflates to more than the limit of ${this.#maxMessageSize} bytes`);
        }
        return this.#fail(failure.closeCode, failure.message);
      }
      this.#messageLength += produced;
      if (this.#messageIsText) {
        // A message that inflated in one piece is checked in one go.
        if (last && first && fragments.length === 1) {
          if (!isUtf8(fragments[0])) return this.#fail(CloseCode.INVALID_PAYLOAD, 'text message is not valid UTF-8 (after decompression)');
        } else {
          const utf8 = (this.#utf8 ??= new Utf8StreamValidator());
          for (let i = before; i < fragments.length; i++) {
            if (!utf8.push(fragments[i])) return this.#fail(CloseCode.INVALID_PAYLOAD, 'text message is not valid UTF-8 (after decompression)');
          }
        }
      }
      // Unless the whole message inflated in one go, small inflated pieces are staged as
      // uncompressed ones are, so a message of many tiny frames costs its bytes, not its frames.
      if (!(last && first) && fragments.length > before) {
        for (const fresh of fragments.splice(before)) this.#keep(fresh);
      }
    } while (this.#payloadRead < this.#payloadLength);
    this.#state = State.HEAD;
    if (!this.#fin) return true;
    this.#endRun();
    this.#staging = null;
    if (this.#messageIsText && this.#utf8 !== null && !this.#utf8.end()) {
      return this.#fail(CloseCode.INVALID_PAYLOAD, 'text message ends inside a UTF-8 sequence (after decompression)');
    }
    const data = this.#messageIsText && this.#transientText ? joinText(this.#fragments, this.#messageLength) : joinFragments(this.#fragments, this.#messageLength);
    this.#fragments.length = 0;
    this.#inMessage = false;
    this.#sink.onMessage(this.#messageIsText, data, true);
    return true;
  }

  /**
   * Keeps a piece of the message being assembled. A large piece stays a view of its chunk; a
   * small one is appended to the staging buffer, whose consecutive pieces become one view.
   */
  #keep(piece: Buffer): void {
    if (piece.length >= SMALL_PIECE) {
      this.#endRun();
      // A view of a borrowed chunk would not outlive push(): keep a copy.
      this.#fragments.push(this.#borrowed !== null && piece.buffer === this.#borrowed ? Buffer.from(piece) : piece);
      return;
    }
    let staging = this.#staging;
    if (staging === null || staging.length - this.#stagingUsed < piece.length) {
      this.#endRun();
      // Grows from 256 bytes to STAGING_MAX, so a short fragmented message stays small.
      const size = Math.max(piece.length, staging === null ? STAGING_MIN : Math.min(staging.length * 2, STAGING_MAX));
      staging = this.#staging = Buffer.allocUnsafeSlow(size);
      this.#stagingStart = this.#stagingUsed = 0;
    }
    staging.set(piece, this.#stagingUsed);
    this.#stagingUsed += piece.length;
  }

  /** Moves the staged run, if any, to #fragments; later small pieces start a new run after it. */
  #endRun(): void {
    if (this.#staging === null || this.#stagingUsed === this.#stagingStart) return;
    this.#fragments.push(this.#staging.subarray(this.#stagingStart, this.#stagingUsed));
    this.#stagingStart = this.#stagingUsed;
  }

  #control(payload: Buffer): boolean {
    switch (this.#opcode) {
      case Opcode.PING:
        this.#sink.onPing(this.#borrowed !== null && payload.buffer === this.#borrowed ? Buffer.from(payload) : payload);
        break;
      case Opcode.PONG:
        this.#sink.onPong(this.#borrowed !== null && payload.buffer === this.#borrowed ? Buffer.from(payload) : payload);
        break;
      default:
        return this.#close(payload);
    }
    return true;
  }

  /** Validates a Close frame's body. @see RFC 6455 §5.5.1, §7.1.5 */
  #close(body: Buffer): boolean {
    if (body.length === 0) {
      this.#stop();
      this.#sink.onClose(CloseCode.NO_STATUS_RECEIVED, '');
      return false;
    }
    if (body.length === 1) return this.#fail(CloseCode.PROTOCOL_ERROR, 'close frame with a 1-byte body');
    const code = body.readUInt16BE(0);
    if (!isValidWireCloseCode(code)) return this.#fail(CloseCode.PROTOCOL_ERROR, `close code ${code} is not allowed on the wire`);
    const reason = body.subarray(2);
    if (!isUtf8(reason)) return this.#fail(CloseCode.INVALID_PAYLOAD, 'close reason is not valid UTF-8');
    this.#stop();
    // "UTF-8 decode without BOM": Buffer#toString keeps a leading U+FEFF, as the Standard wants.
    this.#sink.onClose(code, reason.toString('utf8'));
    return false;
  }

  #fail(closeCode: number, message: string): false {
    this.#stop();
    this.#sink.onProtocolError(closeCode, message);
    return false;
  }

  #stop(): void {
    this.#state = State.STOPPED;
    this.#chunks = [];
    this.#fragments = [];
    this.#staging = null;
    this.#buffered = 0;
  }

  /** Returns #chunks[0], first joining chunks so that it holds `n` bytes from #offset; or null. */
  #contiguous(n: number): Buffer | null {
    if (this.#buffered < n) return null;
    const first = this.#chunks[0];
    if (first.length - this.#offset >= n) return first;
    const joined = this.#consume(n);
    // #offset belongs to whichever chunk is first; keep the next chunk's read position as a view.
    if (this.#offset !== 0) this.#chunks[0] = this.#chunks[0].subarray(this.#offset);
    this.#chunks.unshift(joined);
    this.#offset = 0;
    this.#buffered += n;
    return joined;
  }

  #skip(n: number): void {
    this.#offset += n;
    this.#buffered -= n;
    if (this.#offset === this.#chunks[0].length) {
      this.#chunks.shift();
      this.#offset = 0;
    }
  }

  /** Takes up to `max` bytes from the first chunk, as a view. */
  #take(max: number): Buffer {
    const first = this.#chunks[0];
    const available = first.length - this.#offset;
    const n = available < max ? available : max;
    const view = first.subarray(this.#offset, this.#offset + n);
    this.#skip(n);
    return view;
  }

  /** Takes exactly `n` buffered bytes: a view if one chunk holds them, else a copy. */
  #consume(n: number): Buffer {
    const first = this.#chunks[0];
    if (first.length - this.#offset >= n) {
      const view = first.subarray(this.#offset, this.#offset + n);
      this.#skip(n);
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const piece = this.#take(n - filled);
      out.set(piece, filled);
      filled += piece.length;
    }
    return out;
  }
}

// Unfragmented messages from this size, read from borrowed chunks, are copied in as they arrive.
// (Larger ones, possible only with a raised maxPayload, are kept as copies and joined, so that a
// frame head alone never asks for an allocation that large.)
const DIRECT_MIN = 64 * 1024;
const DIRECT_MAX = 256 * 1024 * 1024;

// The reused buffer of joinText, grown as needed up to TEXT_JOIN_MAX; longer text gets a
// buffer of its own (it is rare, and the buffer would stay large).
const TEXT_JOIN_MAX = 1024 * 1024;
let textJoin: Buffer | null = null;

/** Like {@link joinFragments}, into the reused buffer: the result is valid until the next call. */
function joinText(fragments: Buffer[], length: number): Buffer {
  if (fragments.length === 1 || length === 0 || length > TEXT_JOIN_MAX) return joinFragments(fragments, length);
  let out = textJoin;
  if (out === null || out.length < length) {
    out = textJoin = Buffer.allocUnsafeSlow(Math.min(TEXT_JOIN_MAX, Math.max(length, 2 * (out?.length ?? 32 * 1024))));
  }
  let offset = 0;
  for (const f of fragments) {
    out.set(f, offset);
    offset += f.length;
  }
  return out.subarray(0, length);
}

/**
 * Joins a message's pieces. One piece is returned as is (a view, no copy). Several are copied
 * once into a buffer that owns its whole ArrayBuffer, so the API can hand that ArrayBuffer to the
 * user without a second copy.
 */
function joinFragments(fragments: Buffer[], length: number): Buffer {
  if (fragments.length === 1) return fragments[0];
  if (length === 0) return EMPTY;
  const out = Buffer.allocUnsafeSlow(length);
  let offset = 0;
  for (const f of fragments) {
    out.set(f, offset);
    offset += f.length;
  }
  return out;
}
