/**
 * A small DEFLATE decoder (RFC 1951) in plain TypeScript, for tests: it shares no code with
 * zlib, decodes a raw DEFLATE stream completely, and reports what zlib would not tell, namely
 * the largest back-reference distance used and the kind of every block. Slow (one bit at a
 * time, in the manner of zlib's contrib/puff), which is fine for test data.
 * @see RFC 1951 §3.2
 */

/** What a stream decoded to, and how it was built. */
export interface DeflateTrace {
  output: Buffer;
  /** The largest distance of any match, 0 if none. */
  maxDistance: number;
  /** Each block in order: BTYPE (0 stored, 1 fixed, 2 dynamic) and BFINAL. */
  blocks: { type: number; final: boolean }[];
  /** Bytes of input left after the last complete block (the stream may stop mid-block). */
  unused: number;
}

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** A canonical Huffman code: how many codes of each length, and the symbols in code order. */
interface Huffman {
  counts: number[];
  symbols: number[];
}

function huffman(lengths: number[]): Huffman {
  const counts = new Array<number>(16).fill(0);
  for (const l of lengths) counts[l]++;
  counts[0] = 0;
  const offsets = new Array<number>(16).fill(0);
  for (let l = 1; l < 15; l++) offsets[l + 1] = offsets[l] + counts[l];
  const symbols = new Array<number>(lengths.length);
  lengths.forEach((l, symbol) => {
    if (l !== 0) symbols[offsets[l]++] = symbol;
  });
  return { counts, symbols };
}

class EndOfInput extends Error {}

/**
 * Decodes `input` as raw DEFLATE, block after block, until a block with BFINAL set or the end
 * of the input (a stream cut after a sync flush ends there). `history` is what came before
 * (context takeover): matches may reach into it, and it is not part of `output`.
 */
export function traceInflate(input: Uint8Array, history: Uint8Array = new Uint8Array(0)): DeflateTrace {
  const out: number[] = Array.from(history);
  const start = out.length;
  let pos = 0;
  let bitBuffer = 0;
  let bitCount = 0;
  let maxDistance = 0;
  const blocks: DeflateTrace['blocks'] = [];
  const bits = (n: number): number => {
    let value = bitBuffer;
    while (bitCount < n) {
      if (pos >= input.length) throw new EndOfInput();
      value |= input[pos++] << bitCount;
      bitCount += 8;
    }
    bitBuffer = value >>> n;
    bitCount -= n;
    return value & ((1 << n) - 1);
  };
  const decode = (h: Huffman): number => {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len < 16; len++) {
      code |= bits(1);
      const count = h.counts[len];
      if (code - count < first) return h.symbols[index + (code - first)];
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw new Error('invalid Huffman code');
  };
  const codes = (lit: Huffman, dist: Huffman): void => {
    for (;;) {
      const symbol = decode(lit);
      if (symbol < 256) {
        out.push(symbol);
        continue;
      }
      if (symbol === 256) return;
      const l = symbol - 257;
      if (l >= 29) throw new Error('invalid length symbol');
      const length = LENGTH_BASE[l] + bits(LENGTH_EXTRA[l]);
      const d = decode(dist);
      if (d >= 30) throw new Error('invalid distance symbol');
      const distance = DIST_BASE[d] + bits(DIST_EXTRA[d]);
      if (distance > out.length) throw new Error(`distance ${distance} reaches before the start`);
      if (distance > maxDistance) maxDistance = distance;
      for (let i = 0; i < length; i++) out.push(out[out.length - distance]);
    }
  };
  const fixedLit = huffman([...new Array(144).fill(8), ...new Array(112).fill(9), ...new Array(24).fill(7), ...new Array(8).fill(8)]);
  const fixedDist = huffman(new Array(30).fill(5));
  let consumed = 0;
  try {
    for (;;) {
      const final = bits(1) === 1;
      const type = bits(2);
      if (type === 0) {
        bitBuffer = 0;
        bitCount = 0;
        if (pos + 4 > input.length) throw new EndOfInput();
        const len = input[pos] | (input[pos + 1] << 8);
        const nlen = input[pos + 2] | (input[pos + 3] << 8);
        if ((len ^ 0xffff) !== nlen) throw new Error('stored block LEN and NLEN do not match');
        pos += 4;
        if (pos + len > input.length) throw new EndOfInput();
        for (let i = 0; i < len; i++) out.push(input[pos + i]);
        pos += len;
      } else if (type === 1) {
        codes(fixedLit, fixedDist);
      } else if (type === 2) {
        const nlen = bits(5) + 257;
        const ndist = bits(5) + 1;
        const ncode = bits(4) + 4;
        const lengths = new Array<number>(19).fill(0);
        for (let i = 0; i < ncode; i++) lengths[CODE_LENGTH_ORDER[i]] = bits(3);
        const lencode = huffman(lengths);
        const all: number[] = [];
        while (all.length < nlen + ndist) {
          const symbol = decode(lencode);
          if (symbol < 16) all.push(symbol);
          else if (symbol === 16) {
            if (all.length === 0) throw new Error('repeat with no previous length');
            const previous = all[all.length - 1];
            for (let n = 3 + bits(2); n > 0; n--) all.push(previous);
          } else {
            for (let n = symbol === 17 ? 3 + bits(3) : 11 + bits(7); n > 0; n--) all.push(0);
          }
        }
        codes(huffman(all.slice(0, nlen)), huffman(all.slice(nlen)));
      } else {
        throw new Error('invalid block type 3');
      }
      blocks.push({ type, final });
      consumed = pos;
      if (final) break;
    }
  } catch (error) {
    if (!(error instanceof EndOfInput)) throw error;
  }
  return { output: Buffer.from(out.slice(start)), maxDistance, blocks, unused: input.length - consumed };
}
