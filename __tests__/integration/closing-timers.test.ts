/**
 * The closing handshake's timers, as Chromium has them: once both Close frames are exchanged we
 * wait for the server to close TCP (2 s) without half-closing first, and after our own Close
 * frame the server has 60 s to send its Close. Shortened here through the internal settings,
 * except in the one test that checks the real linger.
 * @see RFC 6455 §7.1.1, §7.1.3; Chromium net/websockets/websocket_channel.cc
 */
import * as dc from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { ChannelName } from '../../lib/diagnostics';
import { WebSocket } from '../../lib/ponyfill';
import { type ServerConnection, TestServer } from '../../lib/server';
import { settings } from '../../lib/settings';
import { next, outcomeOf, within } from '../helpers/events';

const saved = { ...settings };
let server: TestServer | undefined;
afterEach(async () => {
  Object.assign(settings, saved);
  await server?.close();
  server = undefined;
});

/** A scripted server that keeps TCP open after our FIN and answers no Close by itself. */
async function openHolding(): Promise<{ ws: WebSocket; conn: ServerConnection; outcome: ReturnType<typeof outcomeOf> }> {
  server = await TestServer.start({ mode: 'script', allowHalfOpen: true, answerClose: false });
  const ws = new WebSocket(server.url());
  const outcome = outcomeOf(ws, 10_000);
  const conn = await server.nextConnection();
  await next(ws, 'open');
  return { ws, conn, outcome };
}

/** When the server saw our FIN, in performance.now() time. */
function finSeen(conn: ServerConnection): Promise<number> {
  return new Promise((resolve) => conn.socket.once('end', () => resolve(performance.now())));
}

test('the server sends Close and holds TCP: close after the linger, clean, with its code and reason; no FIN from us before', async () => {
  settings.closeLingerMs = 300;
  const { conn, outcome } = await openHolding();
  const fin = finSeen(conn);
  conn.close(4001, 'server done');
  await conn.next('close');
  const answered = performance.now();
  expect(await outcome).toMatchObject({ events: ['open', 'close'], code: 4001, reason: 'server done', wasClean: true });
  // Our FIN comes only when the linger ends and we drop the connection.
  expect((await within(fin, 5000, 'our FIN')) - answered).toBeGreaterThanOrEqual(250);
});

test('we close, the server answers and holds TCP: the same linger, clean, with its code and reason', async () => {
  settings.closeLingerMs = 300;
  const { ws, conn, outcome } = await openHolding();
  const fin = finSeen(conn);
  ws.close(1000, 'client done');
  expect(await conn.next('close')).toMatchObject({ code: 1000, reason: 'client done' });
  conn.close(1000, 'ok');
  const answered = performance.now();
  expect(await outcome).toMatchObject({ events: ['open', 'close'], code: 1000, reason: 'ok', wasClean: true });
  expect((await within(fin, 5000, 'our FIN')) - answered).toBeGreaterThanOrEqual(250);
});

test('the server closes TCP after our answer: we sent no FIN before its FIN, and the close is clean', async () => {
  settings.closeLingerMs = 10_000;
  const { conn, outcome } = await openHolding();
  let serverEnded = Infinity;
  const fin = finSeen(conn);
  conn.close(1000, 'bye');
  await conn.next('close');
  serverEnded = performance.now();
  conn.socket.end();
  expect(await outcome).toMatchObject({ code: 1000, reason: 'bye', wasClean: true });
  expect(await within(fin, 5000, 'our FIN')).toBeGreaterThanOrEqual(serverEnded);
});

test('we close and the server never answers: 1006, not clean, after the closing timeout, with a fail diagnostic', async () => {
  settings.closeTimeoutMs = 200;
  const reasons: string[] = [];
  const onFail = (message: unknown): void => void reasons.push((message as { reason: string }).reason);
  dc.subscribe(ChannelName.fail, onFail);
  try {
    const { ws, conn, outcome } = await openHolding();
    const started = performance.now();
    ws.close(1000);
    await conn.next('close');
    expect(await outcome).toMatchObject({ events: ['open', 'close'], code: 1006, reason: '', wasClean: false });
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    expect(reasons).toEqual([expect.stringMatching(/closing handshake timed out/)]);
  } finally {
    dc.unsubscribe(ChannelName.fail, onFail);
  }
});

// RFC 6455 §7.1.5: a Close frame was received, so its code is the connection's close code (and
// Chromium reports the same); the reset makes the close unclean.
test('a reset while we wait for the server to close TCP ends the wait at once: not clean, with the code its Close frame carried', async () => {
  settings.closeLingerMs = 30_000;
  const { conn, outcome } = await openHolding();
  conn.close(4002, 'then reset');
  await conn.next('close');
  conn.socket.resetAndDestroy();
  expect(await within(outcome, 5000, 'close right after the reset')).toMatchObject({ code: 4002, reason: 'then reset', wasClean: false });
});

test('a reset while we wait for the server\'s Close frame: 1006, not clean, at once', async () => {
  settings.closeTimeoutMs = 30_000;
  const { ws, conn, outcome } = await openHolding();
  ws.close(1000);
  await conn.next('close');
  conn.socket.resetAndDestroy();
  expect(await within(outcome, 5000, 'close right after the reset')).toMatchObject({ code: 1006, wasClean: false });
});

test('with the real defaults, a server that holds TCP after both Close frames is dropped after about 2 s, cleanly', async () => {
  expect(settings.closeLingerMs).toBe(2000);
  expect(settings.closeTimeoutMs).toBe(60_000);
  const { conn, outcome } = await openHolding();
  conn.close(1000);
  await conn.next('close');
  const answered = performance.now();
  expect(await outcome).toMatchObject({ code: 1000, wasClean: true });
  const linger = performance.now() - answered;
  expect(linger).toBeGreaterThanOrEqual(1900);
  expect(linger).toBeLessThan(4000);
});
