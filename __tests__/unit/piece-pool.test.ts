/** piece-pool.ts: pieces of one size, reused, with a bound on how many are kept free. */
import { PIECE_SIZE, PiecePool } from '../../lib/piece-pool';

test('pieces are PIECE_SIZE bytes, a multiple of 4 (each piece starts the masking key cycle afresh)', () => {
  const piece = new PiecePool(4).take();
  expect(piece.length).toBe(PIECE_SIZE);
  expect(PIECE_SIZE % 4).toBe(0);
});

test('a piece given back is the next one taken; new ones are made when none is free', () => {
  const pool = new PiecePool(4);
  const a = pool.take();
  const b = pool.take();
  expect(a).not.toBe(b);
  pool.give([a, b]);
  expect(pool.free).toBe(2);
  expect(pool.take()).toBe(b);
  expect(pool.take()).toBe(a);
  expect(pool.free).toBe(0);
  expect([a, b]).not.toContain(pool.take());
});

test('at most maxFree pieces are kept; the rest are left to the garbage collector', () => {
  const pool = new PiecePool(3);
  const pieces = Array.from({ length: 5 }, () => pool.take());
  pool.give(pieces);
  expect(pool.free).toBe(3);
  pool.give([pool.take()]);
  expect(pool.free).toBe(3);
});
