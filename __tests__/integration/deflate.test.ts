/**
 * permessage-deflate on loopback, against our test server (whose side of the extension shares
 * no code with the client's codec) and against ws's server: what is negotiated, every window
 * size both ways, both no_context_takeover flags, context takeover over many messages, message
 * sizes from 0 B to 1 MiB, compressed fragments with Pings between them, the threshold, order
 * with Blobs, and bufferedAmount. What the client put on the wire is decoded with our own
 * DEFLATE decoder, which reports the farthest back-reference.
 * @see RFC 7692
 */
import * as dc from 'node:diagnostics_channel';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type PerMessageDeflateOptions, type RawData, type WebSocket as PeerSocket } from 'ws';
import { sweepIdle } from '../../lib/deflate';
import { ChannelName } from '../../lib/diagnostics';
import { buildServerResponse } from '../../lib/handshake';
import { ping } from '../../lib/ping';
import { WebSocket } from '../../lib/ponyfill';
import { type ServerConnection, type ServerDeflateOptions, type ServerEvent, TestServer } from '../../lib/server';
import { FAILED, next, nextTask, outcomeOf, within } from '../helpers/events';
import { traceInflate } from '../helpers/inflate';

type Message = string | Uint8Array;
type ReceivedMessage = Extract<ServerEvent, { type: 'message' }>;

const KiB = 1024;
const MiB = 1024 * KiB;
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

let server: TestServer | undefined;
let wss: WebSocketServer | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.close();
  await server?.close();
  server = undefined;
  if (wss !== undefined) {
    for (const client of wss.clients) client.terminate();
    const closing = wss;
    await new Promise<void>((resolve) => closing.close(() => resolve()));
    wss = undefined;
  }
});

/** Compressible JSON text of about `size` bytes. */
function json(size: number, seed = 1): string {
  let s = '';
  for (let i = 0; s.length < size; i++) s += JSON.stringify({ id: seed * 100000 + i, kind: i % 3 ? 'trade' : 'quote', price: (i * 7919) % 10007, venue: 'XNAS' }) + ',';
  return s.slice(0, size);
}

/** Bytes that do not compress, `size` of them. */
function noise(size: number, seed = 7): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const bytesOf = (m: Message): Buffer => (typeof m === 'string' ? Buffer.from(m, 'utf8') : Buffer.from(m));

/** Small and 64 KiB messages of both kinds, compressible and not. */
const MIXED: Message[] = ['', 'a', json(125), json(64 * KiB), new Uint8Array(0), new Uint8Array([7]), noise(125), noise(64 * KiB), 'héllo wörld € 😀'.repeat(200)];
/** The sizes the issue names, up to 1 MiB, text and binary. */
const SIZES: Message[] = [...[0, 1, 125, 64 * KiB, MiB].map((n) => json(n)), ...[0, 1, 125, 64 * KiB, MiB].map((n) => noise(n, n + 1))];

async function openOurs(deflate: boolean | ServerDeflateOptions, mode: 'echo' | 'script' = 'echo', init: ConstructorParameters<typeof WebSocket>[1] = undefined): Promise<{ ws: WebSocket; conn: ServerConnection }> {
  server = await TestServer.start({ mode, perMessageDeflate: deflate });
  const ws = new WebSocket(server.url('/deflate'), init);
  sockets.push(ws);
  ws.binaryType = 'arraybuffer';
  await next(ws, 'open');
  const conn = await server.nextConnection();
  return { ws, conn };
}

async function openWs(perMessageDeflate: PerMessageDeflateOptions | false): Promise<{ ws: WebSocket; peer: PeerSocket }> {
  const s = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate, maxPayload: 64 * MiB });
  wss = s;
  await within(once(s, 'listening'), 5000, 'the ws server to listen');
  const ws = new WebSocket(`ws://127.0.0.1:${(s.address() as AddressInfo).port}/`);
  sockets.push(ws);
  ws.binaryType = 'arraybuffer';
  const opened = next(ws, 'open');
  const [peer] = (await within(once(s, 'connection'), 5000, 'a connection on the ws server')) as [PeerSocket];
  await opened;
  return { ws, peer };
}

/** Sends every message and resolves with the echoes, checked to match. */
async function roundTrip(ws: WebSocket, messages: readonly Message[]): Promise<void> {
  const echoes: unknown[] = [];
  const all = new Promise<void>((resolve, reject) => {
    ws.onmessage = (e: MessageEvent) => {
      echoes.push(e.data);
      if (echoes.length === messages.length) resolve();
    };
    ws.onclose = () => reject(new Error(`closed after ${echoes.length} of ${messages.length} echoes`));
  });
  for (const m of messages) ws.send(m);
  await within(all, 20000, 'every echo');
  ws.onclose = null;
  messages.forEach((m, i) => {
    const echo = echoes[i];
    if (typeof m === 'string') expect({ i, ok: echo === m }).toEqual({ i, ok: true });
    else expect({ i, ok: echo instanceof ArrayBuffer && Buffer.from(echo).equals(Buffer.from(m)) }).toEqual({ i, ok: true });
  });
}

/** The next `n` messages the test server received. */
async function receivedBy(conn: ServerConnection, n: number): Promise<ReceivedMessage[]> {
  const out: ReceivedMessage[] = [];
  for (let i = 0; i < n; i++) out.push(await conn.next('message', 20000));
  return out;
}

/**
 * Decodes the client's compressed payloads as the one DEFLATE stream they form (each followed
 * by the tail the sender removed), checks it gives back the messages, and returns the farthest
 * distance any match reached.
 */
function decodeStream(received: ReceivedMessage[], messages: readonly Message[], contextTakeover = true): number {
  let maxDistance = 0;
  if (contextTakeover) {
    const stream = Buffer.concat(received.flatMap((m) => [m.deflated as Buffer, TAIL]));
    const trace = traceInflate(stream);
    expect(trace.output.equals(Buffer.concat(messages.map(bytesOf)))).toBe(true);
    expect(trace.blocks.some((b) => b.final)).toBe(false);
    maxDistance = trace.maxDistance;
  } else {
    received.forEach((m, i) => {
      const trace = traceInflate(Buffer.concat([m.deflated as Buffer, TAIL]));
      expect(trace.output.equals(bytesOf(messages[i]))).toBe(true);
      maxDistance = Math.max(maxDistance, trace.maxDistance);
    });
  }
  return maxDistance;
}

async function receivedByWs(peer: PeerSocket, n: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  return within(
    new Promise<Buffer[]>((resolve) => {
      const onMessage = (data: RawData): void => {
        out.push(Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]));
        if (out.length === n) {
          peer.off('message', onMessage);
          resolve(out);
        }
      };
      peer.on('message', onMessage);
    }),
    20000,
    `${n} messages at the ws server`,
  );
}

describe('against our test server', () => {
  test('the server agrees: extensions is its header, and every message goes compressed both ways', async () => {
    const { ws, conn } = await openOurs(true);
    expect(ws.extensions).toBe('permessage-deflate');
    expect(conn.request.headers.get('sec-websocket-extensions')).toBe('permessage-deflate; client_max_window_bits');
    await roundTrip(ws, SIZES);
    const received = await receivedBy(conn, SIZES.length);
    expect(received.map((m) => m.compressed)).toEqual(SIZES.map(() => true));
    received.forEach((m, i) => expect(m.data.equals(bytesOf(SIZES[i]))).toBe(true));
    // Compressible text really shrinks: 1 MiB of JSON to under a fifth of it.
    expect((received[4].deflated as Buffer).length).toBeLessThan(0.2 * MiB);
    expect(decodeStream(received, SIZES)).toBeLessThanOrEqual(1 << 15);
  });

  test.each([8, 9, 10, 11, 12, 13, 14, 15])('window bits %i both ways: no match of ours reaches further back', async (bits) => {
    const { ws, conn } = await openOurs({ serverMaxWindowBits: bits, clientMaxWindowBits: bits });
    expect(ws.extensions).toBe(`permessage-deflate; server_max_window_bits=${bits}; client_max_window_bits=${bits}`);
    const messages = bits === 8 ? SIZES : MIXED;
    await roundTrip(ws, messages);
    const received = await receivedBy(conn, messages.length);
    expect(received.every((m) => m.compressed)).toBe(true);
    const maxDistance = decodeStream(received, messages);
    expect(maxDistance).toBeGreaterThan(0);
    expect(maxDistance).toBeLessThanOrEqual(bits === 8 ? 250 : 1 << bits);
    // Even with an 8-bit window the text compresses.
    const text = received.find((m) => m.data.length === 64 * KiB && m.isText) as ReceivedMessage;
    expect((text.deflated as Buffer).length).toBeLessThan(0.5 * 64 * KiB);
  });

  test('server_no_context_takeover and client_no_context_takeover: each message stands alone, both ways', async () => {
    const { ws, conn } = await openOurs({ serverNoContextTakeover: true, clientNoContextTakeover: true });
    expect(ws.extensions).toBe('permessage-deflate; server_no_context_takeover; client_no_context_takeover');
    const message = json(4 * KiB);
    const messages = [message, message, message, ...MIXED];
    await roundTrip(ws, messages);
    const received = await receivedBy(conn, messages.length);
    // Without context the same message compresses to the same bytes every time.
    expect(received[1].deflated).toEqual(received[0].deflated);
    expect(received[2].deflated).toEqual(received[0].deflated);
    decodeStream(received, messages, false);
  });

  test('context takeover across many messages: later ones refer to earlier ones and shrink', async () => {
    const { ws, conn } = await openOurs(true);
    const messages = Array.from({ length: 300 }, (_, i) => JSON.stringify({ type: 'update', seq: i, user: 'someone@example.com', status: i % 2 ? 'online' : 'away' }));
    await roundTrip(ws, messages);
    const received = await receivedBy(conn, messages.length);
    decodeStream(received, messages);
    const first = (received[0].deflated as Buffer).length;
    const later = received.slice(100).map((m) => (m.deflated as Buffer).length);
    expect(Math.max(...later)).toBeLessThan(first / 2);
  });

  test('compressed messages in fragments, with a Ping between each, arrive whole; the Pongs go back', async () => {
    const { ws, conn } = await openOurs(true, 'script');
    const deflate = conn.deflate as NonNullable<ServerConnection['deflate']>;
    const texts = [json(64 * KiB, 2), json(MiB, 3), 'short'];
    const got: string[] = [];
    const all = new Promise<void>((resolve) => {
      ws.onmessage = (e: MessageEvent) => {
        got.push(e.data as string);
        if (got.length === texts.length) resolve();
      };
    });
    for (const text of texts) {
      const payload = deflate.compress(Buffer.from(text));
      const cuts = [0, Math.floor(payload.length / 3), Math.floor((2 * payload.length) / 3), payload.length];
      for (let i = 0; i < 3; i++) {
        conn.sendFrame(i === 0 ? 1 : 0, payload.subarray(cuts[i], cuts[i + 1]), { fin: i === 2, rsv1: i === 0 });
        if (i < 2) conn.ping(Buffer.from(`p${i}`));
      }
    }
    await within(all, 10000, 'the fragmented messages');
    expect(got).toEqual(texts);
    for (let i = 0; i < 6; i++) expect((await conn.next('pong')).data.toString()).toBe(`p${i % 2}`);
  });

  test('threshold: messages shorter than it go uncompressed, the others compressed', async () => {
    const { ws, conn } = await openOurs(true, 'echo', { perMessageDeflate: { threshold: 100 } });
    await roundTrip(ws, ['x'.repeat(99), 'x'.repeat(100), new Uint8Array(99), new Uint8Array(1000), '']);
    expect((await receivedBy(conn, 5)).map((m) => m.compressed)).toEqual([false, true, false, true, false]);
  });

  test('Blobs in between: messages leave in call order, each compressed, the context intact', async () => {
    const { ws, conn } = await openOurs(true);
    const messages: Message[] = ['first', bytesOf(json(20 * KiB, 4)), 'third', new Uint8Array([1, 2, 3]), json(3000, 5), bytesOf('last blob')];
    const echoes: unknown[] = [];
    const all = new Promise<void>((resolve) => {
      ws.onmessage = (e: MessageEvent) => {
        echoes.push(e.data);
        if (echoes.length === messages.length) resolve();
      };
    });
    ws.send('first');
    ws.send(new Blob([messages[1] as Uint8Array]));
    ws.send('third');
    ws.send(new Uint8Array([1, 2, 3]));
    ws.send(messages[4] as string);
    ws.send(new Blob([messages[5] as Uint8Array]));
    await within(all, 10000, 'the echoes');
    const received = await receivedBy(conn, messages.length);
    expect(received.map((m) => m.compressed)).toEqual(messages.map(() => true));
    expect(received.map((m) => m.data.toString('latin1'))).toEqual(messages.map((m) => bytesOf(m).toString('latin1')));
    decodeStream(received, messages);
  });

  test('large and small messages, Blobs, a Ping and the Close leave in call order, the compressed ones one DEFLATE stream', async () => {
    const { ws, conn } = await openOurs(true, 'script');
    const big = json(100 * KiB, 11);
    const huge = noise(MiB, 12);
    const messages: Message[] = [big, 'a', bytesOf('blob'), huge, 'z', json(40 * KiB, 13)];
    ws.send(big);
    ws.send('a');
    ws.send(new Blob(['blob']));
    ws.send(huge);
    huge.fill(0); // changing the buffer after send() does not change what was sent
    const sent = (messages[3] = noise(MiB, 12));
    ws.send('z');
    const rtt = ping(ws, 'after z');
    ws.send(messages[5] as string);
    expect(ws.bufferedAmount).toBe(messages.reduce((n, m) => n + bytesOf(m).length, 0));
    ws.close(1000);
    // Everything the server saw, in order, up to our Close.
    const seen: ServerEvent[] = [];
    while (seen.length === 0 || seen[seen.length - 1].type !== 'close') seen.push(await conn.events.next(10000, 'the next event'));
    expect(seen.map((e) => e.type)).toEqual(['message', 'message', 'message', 'message', 'message', 'ping', 'message', 'close']);
    const received = seen.filter((e): e is ReceivedMessage => e.type === 'message');
    expect(received.map((m) => m.compressed)).toEqual(messages.map(() => true));
    expect(received[3].data.equals(Buffer.from(sent))).toBe(true);
    decodeStream(received, messages);
    rtt.catch(() => {});
  });

  test('bufferedAmount counts the bytes given to send(), not the compressed ones, and falls once they are written', async () => {
    const { ws, conn } = await openOurs(true, 'script');
    ws.send(new Uint8Array(MiB));
    ws.send('é'.repeat(1000));
    expect(ws.bufferedAmount).toBe(MiB + 2000);
    await Promise.resolve();
    expect(ws.bufferedAmount).toBe(MiB + 2000);
    const [zeros, text] = await receivedBy(conn, 2);
    // 1 MiB of zeros took a few kilobytes on the wire, yet counted as 1 MiB.
    expect((zeros.deflated as Buffer).length).toBeLessThan(8 * KiB);
    expect(text.data.toString()).toBe('é'.repeat(1000));
    await nextTask();
    expect(ws.bufferedAmount).toBe(0);
  });

  test('control frames are never compressed: our Ping, our Pong and our Close reach the server as they are', async () => {
    const { ws, conn } = await openOurs(true, 'script');
    ws.send('before');
    const rtt = ping(ws, 'are you there');
    conn.ping(Buffer.from('server ping'));
    expect((await conn.next('message')).compressed).toBe(true);
    expect((await conn.next('ping')).data.toString()).toBe('are you there');
    expect((await conn.next('pong')).data.toString()).toBe('server ping');
    conn.pong(Buffer.from('are you there'));
    await rtt;
    ws.close(4000, 'done');
    expect(await conn.next('close')).toMatchObject({ code: 4000, reason: 'done' });
    // The server's parser fails any RSV1 on a control frame; nothing of the kind was seen.
    expect(conn.events.pending.filter((e) => e.type === 'protocol-error')).toEqual([]);
  });

  test('perMessageDeflate: false offers nothing, so a server that would agree cannot', async () => {
    const { ws, conn } = await openOurs(true, 'echo', { perMessageDeflate: false });
    expect(ws.extensions).toBe('');
    expect(conn.request.headers.has('sec-websocket-extensions')).toBe(false);
    await roundTrip(ws, ['plain']);
    expect((await receivedBy(conn, 1))[0].compressed).toBe(false);
  });

  test('a server that declines: no extension, nothing compressed', async () => {
    const { ws, conn } = await openOurs(false);
    expect(ws.extensions).toBe('');
    await roundTrip(ws, ['plain', new Uint8Array(100)]);
    expect((await receivedBy(conn, 2)).map((m) => m.compressed)).toEqual([false, false]);
  });
});

describe('idle connections free their zlib streams and keep their context', () => {
  const updates = (from: number, n: number): string[] => Array.from({ length: n }, (_, i) => JSON.stringify({ type: 'update', seq: from + i, user: 'someone@example.com', status: 'online' }));

  test('our server: after the sweeps, both directions go on referring to what came before', async () => {
    const { ws, conn } = await openOurs(true);
    const first = updates(0, 20);
    await roundTrip(ws, first);
    sweepIdle();
    sweepIdle();
    const second = updates(20, 20);
    await roundTrip(ws, second);
    const received = await receivedBy(conn, 40);
    decodeStream(received, [...first, ...second]);
    // The first message after the release is as small as the ones before it.
    expect((received[20].deflated as Buffer).length).toBeLessThan((received[0].deflated as Buffer).length / 2);
  });

  test('a ws server: the same', async () => {
    const { ws, peer } = await openWs({ threshold: 0 });
    peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary }));
    await roundTrip(ws, updates(0, 20));
    sweepIdle();
    sweepIdle();
    await roundTrip(ws, updates(20, 20));
  });
});

describe('against a ws server with permessage-deflate', () => {
  test('defaults: sizes from 0 B to 1 MiB, both ways', async () => {
    const { ws, peer } = await openWs({ threshold: 0 });
    expect(ws.extensions).toBe('permessage-deflate');
    const at = receivedByWs(peer, SIZES.length);
    peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary }));
    await roundTrip(ws, SIZES);
    (await at).forEach((data, i) => expect(data.equals(bytesOf(SIZES[i]))).toBe(true));
  });

  test.each([8, 9, 10, 11, 12, 13, 14, 15])('window bits %i both ways', async (bits) => {
    const { ws, peer } = await openWs({ threshold: 0, serverMaxWindowBits: bits, clientMaxWindowBits: bits });
    expect(ws.extensions).toMatch(new RegExp(`client_max_window_bits=${bits}`));
    expect(ws.extensions).toMatch(new RegExp(`server_max_window_bits=${bits}`));
    peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary }));
    await roundTrip(ws, MIXED);
  });

  test('server_no_context_takeover and client_no_context_takeover', async () => {
    const { ws, peer } = await openWs({ threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true });
    expect(ws.extensions).toMatch(/server_no_context_takeover/);
    expect(ws.extensions).toMatch(/client_no_context_takeover/);
    peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary }));
    await roundTrip(ws, [json(4 * KiB), json(4 * KiB), ...MIXED]);
  });

  test('context takeover across many messages', async () => {
    const { ws, peer } = await openWs({ threshold: 0 });
    peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary }));
    await roundTrip(
      ws,
      Array.from({ length: 300 }, (_, i) => JSON.stringify({ type: 'update', seq: i, user: 'someone@example.com' })),
    );
  });

  test('a compressed message in fragments with a Ping between them', async () => {
    const { ws, peer } = await openWs({ threshold: 0 });
    const text = json(200 * KiB, 9);
    const message = next<MessageEvent>(ws, 'message', 10000);
    const pong = within(once(peer, 'pong'), 10000, 'a pong at the ws server');
    const third = Math.floor(text.length / 3);
    peer.send(text.slice(0, third), { fin: false, compress: true });
    peer.ping('between');
    peer.send(text.slice(third, 2 * third), { fin: false, compress: true });
    peer.send(text.slice(2 * third), { fin: true, compress: true });
    expect((await message).data).toBe(text);
    expect(((await pong) as [Buffer])[0].toString()).toBe('between');
  });
});

describe('negotiation: a response that breaks RFC 7692 fails the handshake, with the rule in the fail diagnostics', () => {
  async function answer(extensions: string, init?: ConstructorParameters<typeof WebSocket>[1]): Promise<{ outcome: Awaited<ReturnType<typeof outcomeOf>>; reasons: string[]; ws: WebSocket }> {
    server = await TestServer.start({ respond: (request) => buildServerResponse(request.key, undefined, [['Sec-WebSocket-Extensions', extensions]]) });
    const reasons: string[] = [];
    const onFail = (message: unknown): void => {
      reasons.push((message as { reason: string }).reason);
    };
    dc.subscribe(ChannelName.fail, onFail);
    try {
      const ws = new WebSocket(server.url(), init);
      sockets.push(ws);
      return { outcome: await outcomeOf(ws), reasons, ws };
    } finally {
      dc.unsubscribe(ChannelName.fail, onFail);
    }
  }

  test.each([
    ['an extension we did not offer', 'x-custom', /extension "x-custom", which was not offered/],
    ['permessage-deflate accepted twice', 'permessage-deflate, permessage-deflate', /accepted permessage-deflate twice/],
    ['an unknown parameter', 'permessage-deflate; client_window', /unknown permessage-deflate parameter "client_window"/],
    ['a duplicated parameter', 'permessage-deflate; client_no_context_takeover; client_no_context_takeover', /appears twice/],
    ['a value on a flag', 'permessage-deflate; server_no_context_takeover=true', /takes no value/],
    ['a window out of range', 'permessage-deflate; server_max_window_bits=16', /server_max_window_bits=16 is invalid/],
    ['a window with a leading zero', 'permessage-deflate; client_max_window_bits=08', /client_max_window_bits=08 is invalid/],
    ['client_max_window_bits without a value', 'permessage-deflate; client_max_window_bits', /needs a value/],
    ['a malformed header', 'permessage-deflate;; server_no_context_takeover', /malformed Sec-WebSocket-Extensions/],
  ])('%s', async (_name, extensions, reason) => {
    const { outcome, reasons, ws } = await answer(extensions);
    expect(outcome).toEqual({ events: ['error', 'close'], ...FAILED });
    expect(ws.extensions).toBe('');
    expect(reasons).toEqual([expect.stringMatching(/^invalid handshake response: /)]);
    expect(reasons[0]).toMatch(reason);
  });

  test('permessage-deflate when perMessageDeflate: false offered nothing', async () => {
    const { outcome, reasons } = await answer('permessage-deflate', { perMessageDeflate: false });
    expect(outcome).toEqual({ events: ['error', 'close'], ...FAILED });
    expect(reasons[0]).toMatch(/"permessage-deflate", which was not offered \(none was\)/);
  });

  test('a valid answer with quoted values opens, and extensions is the header as the server wrote it', async () => {
    const value = 'permessage-deflate ; client_max_window_bits="10" ;server_no_context_takeover';
    server = await TestServer.start({ respond: (request) => buildServerResponse(request.key, undefined, [['Sec-WebSocket-Extensions', value]]) });
    const ws = new WebSocket(server.url());
    sockets.push(ws);
    await next(ws, 'open');
    expect(ws.extensions).toBe(value);
  });
});
