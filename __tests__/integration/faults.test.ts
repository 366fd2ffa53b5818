/**
 * The hostile network: every connection goes through a fault-injecting proxy (re-chunking,
 * delays, stalls, resets at byte offsets, half-closes), drawn by fast-check from a seed that a
 * failure prints. Whatever the schedule, the contract holds: the messages delivered are an
 * in-order prefix of those sent, exactly one close ends each socket within a bounded time and
 * tells the truth, and nothing throws.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { WebSocketServer } from 'ws';
import { FaultProxy, type FaultSchedule } from '../../lib/fault-proxy';
import { WebSocket } from '../../lib/ponyfill';
import { TestServer } from '../../lib/server';
import { ConnectProxy } from '../helpers/connect-proxy';
import { within } from '../helpers/events';
import { exchange, firstMismatch, makeMessages } from '../helpers/traffic';

type ServerKind = 'ours' | 'ws';
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/** An echo server of either kind on 127.0.0.1; resolves with its address and a close function. */
async function echoServer(kind: ServerKind, deflate = false): Promise<{ address: AddressInfo; close: () => Promise<void> }> {
  if (kind === 'ours') {
    const server = await TestServer.start({ mode: 'echo' });
    return { address: server.server.address() as AddressInfo, close: () => server.close() };
  }
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: deflate });
  await once(wss, 'listening');
  wss.on('connection', (socket) => {
    socket.on('error', () => {});
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  return {
    address: wss.address() as AddressInfo,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
beforeAll(() => process.on('unhandledRejection', onUnhandled));
afterAll(() => process.off('unhandledRejection', onUnhandled));

/** A fault and where it strikes, as fast-check draws it. */
type Fault =
  | { kind: 'none' }
  | { kind: 'reset'; direction: 'up' | 'down'; at: number }
  | { kind: 'reset-after-close' }
  | { kind: 'fin'; direction: 'up' | 'down'; at: number };

interface Case {
  server: ServerKind;
  // direct: client -> fault proxy -> server. connect: the client is given `proxy:` the fault
  // proxy, which forwards to a CONNECT proxy in front of the server, so faults strike the
  // CONNECT exchange and the tunnel.
  via: 'direct' | 'connect';
  // With a ws server that negotiates permessage-deflate: faults strike compressed frames.
  deflate: boolean;
  seed: number;
  count: number;
  small: boolean; // tiny chunks and small messages, or large chunks and messages up to 1 MiB
  maxChunk: number | undefined;
  maxDelayMs: number;
  stall: { direction: 'up' | 'down'; at: number; ms: number } | undefined;
  fault: Fault;
}

// Offsets are drawn up to here: inside the handshake (the first ~250 bytes), inside frame
// heads and payloads, and past the end of the traffic (then no fault happens).
const MAX_OFFSET = 6000;
const direction = fc.constantFrom<'up' | 'down'>('up', 'down');
const caseArbitrary: fc.Arbitrary<Case> = fc
  .record({
    server: fc.constantFrom<ServerKind>('ours', 'ws'),
    via: fc.constantFrom<'direct' | 'connect'>('direct', 'direct', 'connect'),
    deflate: fc.boolean(),
    seed: fc.integer({ min: 1, max: 0x7fffffff }),
    count: fc.integer({ min: 0, max: 8 }),
    small: fc.boolean(),
    chunk: fc.integer({ min: 1, max: 64 }),
    maxDelayMs: fc.constantFrom(0, 0, 1, 3),
    stall: fc.option(fc.record({ direction, at: fc.integer({ min: 0, max: MAX_OFFSET }), ms: fc.integer({ min: 100, max: 300 }) }), { nil: undefined }),
    fault: fc.oneof(
      fc.constant<Fault>({ kind: 'none' }),
      fc.record({ kind: fc.constant<'reset'>('reset'), direction, at: fc.integer({ min: 0, max: MAX_OFFSET }) }),
      fc.constant<Fault>({ kind: 'reset-after-close' }),
      fc.record({ kind: fc.constant<'fin'>('fin'), direction, at: fc.integer({ min: 0, max: MAX_OFFSET }) }),
    ),
  })
  .map(({ chunk, ...c }) => ({ ...c, server: c.deflate ? 'ws' : c.server, maxChunk: c.small ? chunk : c.seed % 3 === 0 ? undefined : chunk * 1024 }));

function scheduleOf(c: Case): FaultSchedule {
  const schedule: FaultSchedule = { seed: c.seed, maxChunk: c.maxChunk, maxDelayMs: c.maxDelayMs, stall: c.stall, heads: c.via === 'connect' ? 2 : 1 };
  if (c.fault.kind === 'reset') schedule.reset = { direction: c.fault.direction, at: c.fault.at };
  if (c.fault.kind === 'reset-after-close') schedule.reset = { direction: 'down', at: 'after-close' };
  if (c.fault.kind === 'fin') schedule.fin = { direction: c.fault.direction, at: c.fault.at };
  return schedule;
}

/** Runs one case end to end and checks every invariant; throws with the case in the message. */
async function runCase(c: Case): Promise<{ fault: 'reset' | 'fin' | null; close: { code: number; wasClean: boolean } }> {
  const server = await echoServer(c.server, c.deflate);
  const connect = c.via === 'connect' ? await ConnectProxy.start() : null;
  const proxy = await FaultProxy.start(connect === null ? server.address : (connect.server.address() as AddressInfo), () => scheduleOf(c));
  try {
    const messages = makeMessages(c.seed, c.count, c.small ? 2048 : 1024 * 1024);
    const ws =
      connect === null
        ? new WebSocket(`ws://127.0.0.1:${proxy.port}/`)
        : new WebSocket(`ws://127.0.0.1:${server.address.port}/`, { proxy: `http://127.0.0.1:${proxy.port}` });
    const { observed, closed } = exchange(ws, messages);
    // Bounded: a stall, the slowest chunking and the closing timers all fit well inside this.
    await within(closed, 15_000, `the close event (case ${JSON.stringify(c)})`);
    const log = proxy.connections[0];
    if (log !== undefined) await within(log.closed, 15_000, 'the proxied sockets to close');
    // Let any stray task run: nothing may be dispatched after close.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 0));

    const where = `case ${JSON.stringify(c)}; events ${observed.events.join(',')}; close ${JSON.stringify(observed.close)}; fault ${log?.fault}`;
    // In-order prefix, nothing duplicated or corrupted, types kept.
    expect({ where, mismatch: firstMismatch(messages, observed.received) }).toEqual({ where, mismatch: -1 });
    // Exactly one close, last; error (if any) right before it; CLOSED at close.
    const events = observed.events;
    expect({ where, closes: events.filter((e) => e === 'close').length, last: events[events.length - 1] }).toEqual({ where, closes: 1, last: 'close' });
    expect({ where, errors: events.filter((e) => e === 'error').length <= 1 }).toEqual({ where, errors: true });
    if (events.includes('error')) expect({ where, at: events.indexOf('error') }).toEqual({ where, at: events.length - 2 });
    const close = observed.close as NonNullable<typeof observed.close>;
    expect(close.readyState).toBe(WebSocket.CLOSED);
    expect(observed.minBuffered).toBeGreaterThanOrEqual(0);
    // The truth about the close.
    const fault = log?.fault ?? null;
    if (fault === null) {
      // Nothing cut the connection: every echo arrived, nothing was left buffered, and both
      // Close frames and the server's FIN made the close clean.
      expect({ where, received: observed.received.length, close }).toEqual({ where, received: messages.length, close: { code: 1000, reason: '', wasClean: true, readyState: 3 } });
      expect(observed.bufferedAtLastEcho ?? 0).toBe(0);
    } else {
      // 1006 unless the server's Close frame got through before the cut (RFC 6455 §7.1.5).
      if (close.code !== 1006) expect({ where, code: close.code }).toEqual({ where, code: 1000 });
      // Not clean after a cut. One platform limit: on Node 18 to 22 a reset that lands in the
      // same read as the bytes before it reads as an orderly end (libuv), so once both Close
      // frames are through, a reset can look like the server's FIN there.
      const indistinct = fault === 'reset' && close.code === 1000 && NODE_MAJOR < 24;
      if (!indistinct) expect({ where, wasClean: close.wasClean }).toEqual({ where, wasClean: false });
    }
    return { fault, close };
  } finally {
    await proxy.close();
    await connect?.close();
    await server.close();
  }
}

test('the contract holds under drawn fault schedules, against our server and ws', async () => {
  await fc.assert(fc.asyncProperty(caseArbitrary, async (c) => {
    await runCase(c);
  }), { numRuns: 60, verbose: true });
  expect(unhandled).toEqual([]);
}, 240_000);

describe('fixed schedules', () => {
  const base = { server: 'ours' as ServerKind, via: 'direct' as const, deflate: false, seed: 7, count: 6, small: true, maxChunk: 7, maxDelayMs: 0, stall: undefined };
  const clean = { code: 1000, wasClean: true };
  const cut = { code: 1006, wasClean: false };
  test.each<[string, Partial<Case>, Awaited<ReturnType<typeof runCase>>]>([
    ['1-byte chunks both ways, no fault: clean', { maxChunk: 1, fault: { kind: 'none' } }, { fault: null, close: clean }],
    ['a stall of 300 ms mid-stream, then on: clean', { stall: { direction: 'down', at: 400, ms: 300 }, fault: { kind: 'none' } }, { fault: null, close: clean }],
    ['a reset inside the handshake request', { fault: { kind: 'reset', direction: 'up', at: 40 } }, { fault: 'reset', close: cut }],
    ['a reset inside the 101 response', { fault: { kind: 'reset', direction: 'down', at: 30 } }, { fault: 'reset', close: cut }],
    // The 101 is 129 bytes: byte 130 is inside the first frame's head.
    ['a reset inside a frame head', { fault: { kind: 'reset', direction: 'down', at: 130 } }, { fault: 'reset', close: cut }],
    ['a reset inside a payload', { fault: { kind: 'reset', direction: 'down', at: 300 } }, { fault: 'reset', close: cut }],
    ["a reset right after the server's Close frame: not clean, with its code", { fault: { kind: 'reset-after-close' } }, { fault: 'reset', close: { code: 1000, wasClean: false } }],
    ['a FIN from the server side in the middle of a message', { fault: { kind: 'fin', direction: 'down', at: 300 } }, { fault: 'fin', close: cut }],
    ['a FIN from the client side in the middle of a message', { fault: { kind: 'fin', direction: 'up', at: 500 } }, { fault: 'fin', close: cut }],
    ['1 MiB messages through 64 KiB chunks against ws', { server: 'ws', small: false, maxChunk: 65536, seed: 11, fault: { kind: 'none' } }, { fault: null, close: clean }],
    ['deflate on, 1-byte chunks: clean', { server: 'ws', deflate: true, maxChunk: 1, fault: { kind: 'none' } }, { fault: null, close: clean }],
    ['deflate on, a reset inside a compressed payload', { server: 'ws', deflate: true, fault: { kind: 'reset', direction: 'down', at: 300 } }, { fault: 'reset', close: cut }],
    ['deflate on, a FIN in the middle of a compressed message', { server: 'ws', deflate: true, fault: { kind: 'fin', direction: 'up', at: 400 } }, { fault: 'fin', close: cut }],
    ['through a CONNECT proxy, 1-byte chunks: clean', { via: 'connect', maxChunk: 1, fault: { kind: 'none' } }, { fault: null, close: clean }],
    ['through a CONNECT proxy, a reset inside the CONNECT answer', { via: 'connect', fault: { kind: 'reset', direction: 'down', at: 10 } }, { fault: 'reset', close: cut }],
    ['through a CONNECT proxy, a reset inside a payload', { via: 'connect', fault: { kind: 'reset', direction: 'down', at: 340 } }, { fault: 'reset', close: cut }],
    ["through a CONNECT proxy, a reset right after the server's Close frame", { via: 'connect', fault: { kind: 'reset-after-close' } }, { fault: 'reset', close: { code: 1000, wasClean: false } }],
  ])('%s', async (_name, overrides, expected) => {
    const outcome = await runCase({ ...base, fault: { kind: 'none' }, ...overrides });
    expect({ fault: outcome.fault, close: { code: outcome.close.code, wasClean: outcome.close.wasClean } }).toEqual(expected);
    expect(unhandled).toEqual([]);
  });
});
