/**
 * Garbage collection: a WebSocket nobody references stays alive while it has a connection (and
 * while data is queued), and is collected once closed. Each case runs in a child Node with
 * --expose-gc, whose own TestServer is on loopback, and reports JSON lines.
 */
import { fixture, runToEnd } from '../fixtures/lifecycle/child';

/** Runs a GC fixture with --expose-gc and returns its lines; fails on a non-zero exit. */
async function runGcFixture(name: string, args: string[] = [], timeoutMs?: number) {
  const result = await runToEnd(['--expose-gc', fixture(name), ...args], { timeoutMs });
  const failure = result.lines.find((line) => line.event === 'failure');
  if (failure !== undefined || result.code !== 0) {
    throw new Error(`${name} exited with ${result.code}: ${JSON.stringify(failure ?? result.lines)} ${result.stderr}`);
  }
  return result.lines;
}

test('an unreferenced socket with a message listener opens, receives every message and closes through forced collections, then is collected', async () => {
  const lines = await runGcFixture('gc-unreferenced.js', ['20']);
  const close = lines.find((line) => line.event === 'close');
  expect(close).toEqual({
    event: 'close',
    code: 1000,
    reason: 'done',
    wasClean: true,
    received: Array.from({ length: 20 }, (_, i) => `message ${i}`),
    collectedWhileOpen: false,
  });
  // Collected once closed: the FinalizationRegistry callback ran within the bounded attempts.
  expect(lines.find((line) => line.event === 'done')).toMatchObject({ collected: true });
});

test('an unreferenced socket closed with data queued is not collected, and sends all of it before its Close frame', async () => {
  const lines = await runGcFixture('gc-queued.js');
  const queued = lines.find((line) => line.event === 'queued');
  // After 20 forced collections with the server not reading: still alive, still holding data.
  expect(queued).toMatchObject({ collected: false, readyState: 2 });
  expect(queued?.bufferedAmount).toBeGreaterThan(0);
  const megabyte = 1024 * 1024;
  const messages = Array.from({ length: 9 }, (_, i) => ({ type: 'message', isText: false, bytes: megabyte, fill: [i] }));
  expect(lines.find((line) => line.event === 'received')?.sequence).toEqual([
    ...messages,
    { type: 'message', isText: true, bytes: 9, fill: 'last text' },
    { type: 'close', code: 1000, reason: 'all sent' },
  ]);
  expect(lines.find((line) => line.event === 'close')).toEqual({ event: 'close', code: 1000, reason: 'all sent', wasClean: true });
});

// The bound. A cycle that leaks its WebSocket keeps the socket, its Connection, parser and
// net.Socket: the control run below measures that at several KB per cycle (about 5 KB on Node
// 20), so 10,000 leaked cycles would add tens of MB. With nothing leaked, the heap after full
// collections moves by a few hundred KB (allocator and JIT noise; 0.2 MB measured). 4 MB sits
// more than 10x away from both, so it neither flakes on noise nor lets a per-cycle leak through;
// and every one of the sockets must have been collected, which no noise can fake.
const HEAP_GROWTH_BOUND = 4 * 1024 * 1024;
const CYCLES = 10_000;

test(`${CYCLES} open/echo/close cycles leave the heap flat (growth under ${HEAP_GROWTH_BOUND / 1024 / 1024} MB) and every socket collected`, async () => {
  const lines = await runGcFixture('gc-heap.js', [String(CYCLES), '50'], 240_000);
  const heap = lines.find((line) => line.event === 'heap') as unknown as { growth: number; created: number; collected: number };
  expect(heap.created).toBe(CYCLES + 1000);
  expect(heap.collected).toBe(heap.created);
  expect(heap.growth).toBeLessThan(HEAP_GROWTH_BOUND);
}, 300_000);

test('control: retaining each socket shows up as far more than the bound allows over the same number of cycles', async () => {
  const cycles = 1000;
  const lines = await runGcFixture('gc-heap.js', [String(cycles), '50', 'keep'], 120_000);
  const heap = lines.find((line) => line.event === 'heap') as unknown as { growth: number; collected: number };
  expect(heap.collected).toBe(0);
  // Per retained socket, scaled to the measured run: over twice the bound (in fact about 12x).
  expect((heap.growth / cycles) * CYCLES).toBeGreaterThan(2 * HEAP_GROWTH_BOUND);
}, 180_000);
