/**
 * The heartbeat on the wire, against a server that answers Pings, one that goes silent, and one
 * that streams data instead of answering. Timings are tens of ms; every wait is bounded
 * generously, so a loaded machine makes the tests slower, not red. The heartbeat is set here
 * through the process-wide default (settings.heartbeat), which per-socket options override.
 */
import * as dc from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { ChannelName } from '../../lib/diagnostics';
import { defaultConnectOptions } from '../../lib/options';
import { ping, WebSocket } from '../../lib/ponyfill';
import { type ServerConnection, type ServerEvent, TestServer, type TestServerOptions } from '../../lib/server';
import { settings } from '../../lib/settings';
import { FAILED, next, type Outcome, outcomeOf, within } from '../helpers/events';

const saved = { ...settings };
let server: TestServer | undefined;
let streamer: NodeJS.Timeout | undefined;
let failures: { websocket: unknown; reason: string }[] = [];
const onFail = (message: unknown): number => failures.push(message as { websocket: unknown; reason: string });
beforeEach(() => {
  failures = [];
  dc.subscribe(ChannelName.fail, onFail);
});
afterEach(async () => {
  clearInterval(streamer);
  dc.unsubscribe(ChannelName.fail, onFail);
  Object.assign(settings, saved);
  await server?.close();
  server = undefined;
});

async function connect(
  heartbeat: { interval: number; timeout: number },
  options: TestServerOptions = {},
): Promise<{ ws: WebSocket; conn: ServerConnection; outcome: Promise<Outcome>; startedAt: number }> {
  settings.heartbeat = heartbeat;
  server = await TestServer.start({ mode: 'script', ...options });
  const startedAt = performance.now();
  const ws = new WebSocket(server.url());
  const outcome = outcomeOf(ws, 10_000);
  const opened = next(ws, 'open');
  const conn = await server.nextConnection();
  await opened;
  return { ws, conn, outcome, startedAt };
}

/** The next Ping the server receives; fails at once if the connection ends first. */
async function nextPing(conn: ServerConnection): Promise<Buffer> {
  for (;;) {
    const event = await conn.events.next(10_000, 'a Ping on the server');
    if (event.type === 'ping') return event.data;
    if (event.type === 'end') throw new Error('the connection ended before the next Ping');
  }
}

/** The server's events from now until TCP closes, by type. */
async function typesUntilEnd(conn: ServerConnection): Promise<ServerEvent['type'][]> {
  const types: ServerEvent['type'][] = [];
  for (;;) {
    const event = await conn.events.next(10_000, 'the end of the connection');
    types.push(event.type);
    if (event.type === 'end') return types;
  }
}

test('is off by default, as browsers send no Pings', () => {
  expect(saved.heartbeat).toBeNull();
  expect(defaultConnectOptions([]).heartbeat).toBeNull();
});

test('against a server that answers Pings: an empty Ping after each quiet interval, and the socket stays open', async () => {
  const { ws, conn, outcome } = await connect({ interval: 20, timeout: 100 });
  // Each Ping comes only after its predecessor's Pong was counted as a sign of life; a
  // heartbeat that did not count it would have failed the socket after the first.
  for (let i = 0; i < 4; i++) expect((await nextPing(conn)).length).toBe(0);
  expect(ws.readyState).toBe(WebSocket.OPEN);
  ws.close(1000, 'done');
  expect(await outcome).toMatchObject({ events: ['open', 'close'], code: 1000, wasClean: true });
  expect(failures).toEqual([]);
});

test('against a server that goes silent: one Ping, then error and close 1006, no Close frame, and a fail diagnostic naming the heartbeat', async () => {
  const { ws, conn, outcome, startedAt } = await connect({ interval: 20, timeout: 40 }, { answerPings: false });
  const closedAt = outcome.then(() => performance.now());
  expect((await nextPing(conn)).length).toBe(0);
  const result = await outcome;
  expect(result).toEqual({ events: ['open', 'error', 'close'], ...FAILED });
  // Not before an interval and the timeout have passed in silence (timers may fire 1 ms early).
  expect((await closedAt) - startedAt).toBeGreaterThanOrEqual(20 + 40 - 2);
  // On the wire: TCP ends right after the one Ping; a Close frame would go unanswered.
  expect(await typesUntilEnd(conn)).toEqual(['end']);
  expect(failures.filter((f) => f.websocket === ws).map((f) => f.reason)).toEqual([
    expect.stringMatching(/^heartbeat: nothing received for 20 ms, nor within 40 ms after a Ping/),
  ]);
});

test('against a server that streams data instead of answering Pings: the data keeps the socket alive, until it stops', async () => {
  const { ws, conn, outcome } = await connect({ interval: 20, timeout: 20 }, { answerPings: false });
  let received = 0;
  ws.addEventListener('message', () => received++);
  let sent = 0;
  streamer = setInterval(() => conn.sendText(`tick ${sent++}`), 5);
  // 60 messages take at least 300 ms: many times interval + timeout, in which a heartbeat that
  // waited for Pongs only would have failed the socket.
  await within(
    new Promise<void>((resolve) => ws.addEventListener('message', () => received >= 60 && resolve())),
    10_000,
    '60 streamed messages',
  );
  expect(ws.readyState).toBe(WebSocket.OPEN);
  expect(failures).toEqual([]);
  // Once the stream stops, the silence fails the socket.
  clearInterval(streamer);
  expect(await outcome).toEqual({ events: ['open', ...new Array(sent).fill('message'), 'error', 'close'], ...FAILED });
  expect(failures.map((f) => f.reason)).toEqual([expect.stringMatching(/^heartbeat:/)]);
});

test('a heartbeat Ping waits in line with ping()\'s: a Pong answers the oldest Ping with its payload', async () => {
  const { ws, conn } = await connect({ interval: 20, timeout: 5000 }, { answerPings: false });
  expect((await nextPing(conn)).length).toBe(0); // the heartbeat's
  let resolved = false;
  const roundTrip = ping(ws).then((ms) => {
    resolved = true;
    return ms;
  });
  expect((await nextPing(conn)).length).toBe(0); // ping()'s
  conn.pong(); // answers the heartbeat's Ping, sent first
  const synced = next<MessageEvent>(ws, 'message');
  conn.sendText('sync');
  await synced;
  expect(resolved).toBe(false);
  conn.pong();
  expect(typeof (await within(roundTrip, 5000, 'the second Pong'))).toBe('number');
  expect(ws.readyState).toBe(WebSocket.OPEN);
});

test('stops once the closing handshake has begun: the closing timeout, not the heartbeat, ends a silent peer', async () => {
  settings.closeTimeoutMs = 400;
  const { ws, conn, outcome } = await connect({ interval: 20, timeout: 20 }, { answerPings: false, answerClose: false });
  ws.close(1000);
  expect((await conn.next('close')).code).toBe(1000);
  // The heartbeat would have failed the socket (error event) within about 40 ms.
  expect(await outcome).toEqual({ events: ['open', 'close'], ...FAILED });
  expect(failures.map((f) => f.reason)).toEqual([expect.stringMatching(/closing handshake timed out/)]);
  // No Ping after our Close frame.
  expect(await typesUntilEnd(conn)).toEqual(['end']);
});
