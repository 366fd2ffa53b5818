import type { FrameParser } from '../../lib/parser';

/**
 * Feeds `stream` to `parser` as a socket read into one shared buffer would: each piece (cut at
 * `cuts`, ascending) is copied into the same buffer, pushed as borrowed, and the buffer is
 * scribbled over once the parser returns, so anything it kept without copying shows.
 */
export function pushBorrowed(parser: FrameParser, stream: Buffer, cuts: number[]): void {
  const shared = Buffer.alloc(stream.length);
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    stream.copy(shared, 0, from, cut);
    parser.push(shared.subarray(0, cut - from), true);
    shared.fill(0xee);
    from = cut;
  }
}
