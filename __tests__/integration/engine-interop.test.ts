/**
 * Our engine against a real `ws` peer, both ways: frames and a handshake request from our
 * writer to a `ws` WebSocketServer over a raw socket, and a `ws` client talking to our TestServer.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import { Opcode } from '../../lib/constants';
import { encodeCloseBody, encodeFrame, MaskPool } from '../../lib/frame';
import {
  buildClientRequest,
  generateKey,
  type HandshakeOutcome,
  HttpHeadReader,
  validateServerResponse,
} from '../../lib/handshake';
import { FrameParser, type ParserSink } from '../../lib/parser';
import { AsyncQueue, TestServer } from '../../lib/server';

const WAIT_MS = 5000;

/** `events.once`, bounded so that a missing event fails the test with its name. */
async function onceWithin(emitter: NodeJS.EventEmitter, name: string): Promise<unknown[]> {
  try {
    return await once(emitter, name, { signal: AbortSignal.timeout(WAIT_MS) });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw new Error(`timed out after ${WAIT_MS} ms waiting for '${name}'`);
    throw err;
  }
}

const toBuffer = (data: RawData): Buffer =>
  Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);

type Received =
  | { type: 'message'; isText: boolean; data: Buffer }
  | { type: 'ping' | 'pong'; data: Buffer }
  | { type: 'close'; code: number; reason: string }
  | { type: 'protocol-error'; closeCode: number; message: string };

/**
 * The client half of our engine over a raw socket: our handshake request, our masked frames, our
 * parser for what comes back. It answers nothing by itself, so the test sees every frame.
 */
class RawClient implements ParserSink {
  readonly received = new AsyncQueue<Received>();
  readonly #parser = new FrameParser(this, { role: 'client' });
  readonly #pool = new MaskPool();

  private constructor(
    readonly socket: net.Socket,
    readonly outcome: HandshakeOutcome,
  ) {}

  /** Connects, handshakes and resolves once the 101 has been validated. */
  static async connect(port: number, protocols: string[] = [], resource = '/'): Promise<RawClient> {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    await onceWithin(socket, 'connect');
    const key = generateKey();
    socket.write(buildClientRequest({ host: `127.0.0.1:${port}`, resource, key, protocols }));
    const reader = new HttpHeadReader();
    return new Promise<RawClient>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for the 101 response')), WAIT_MS);
      let client: RawClient | null = null;
      socket.on('data', (chunk: Buffer) => {
        if (client !== null) return client.#parser.push(chunk);
        const result = reader.push(chunk);
        if (result.kind === 'more') return;
        clearTimeout(timer);
        if (result.kind === 'error') return reject(new Error(result.message));
        const outcome = validateServerResponse(result.head, key, protocols);
        if (typeof outcome === 'string') return reject(new Error(outcome));
        client = new RawClient(socket, outcome);
        resolve(client);
        if (result.rest.length > 0) client.#parser.push(result.rest);
      });
      socket.on('error', reject);
    });
  }

  /** Writes one masked frame with our writer. */
  send(opcode: Opcode, payload: Uint8Array | string, fin = true): void {
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const [head, body] = encodeFrame(opcode, bytes, { fin, mask: this.#pool });
    this.socket.cork();
    this.socket.write(head);
    if (body.length > 0) this.socket.write(body);
    this.socket.uncork();
  }

  next(): Promise<Received> {
    return this.received.next(WAIT_MS, 'a frame from the ws server');
  }

  onMessage(isText: boolean, data: Buffer): void {
    this.received.push({ type: 'message', isText, data: Buffer.from(data) });
  }
  onPing(data: Buffer): void {
    this.received.push({ type: 'ping', data: Buffer.from(data) });
  }
  onPong(data: Buffer): void {
    this.received.push({ type: 'pong', data: Buffer.from(data) });
  }
  onClose(code: number, reason: string): void {
    this.received.push({ type: 'close', code, reason });
  }
  onProtocolError(closeCode: number, message: string): void {
    this.received.push({ type: 'protocol-error', closeCode, message });
  }
}

describe('our writer and handshake against a ws WebSocketServer', () => {
  let wss: WebSocketServer;
  let port: number;
  /** What each ws-side connection received, in order. */
  let peers: AsyncQueue<{ ws: WebSocket; received: AsyncQueue<Received> }>;
  const clients: RawClient[] = [];

  beforeEach(async () => {
    peers = new AsyncQueue();
    wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      handleProtocols: (offered) => (offered.has('superchat') ? 'superchat' : false),
    });
    wss.on('connection', (ws) => {
      const received = new AsyncQueue<Received>();
      ws.on('message', (data, isBinary) => {
        received.push({ type: 'message', isText: !isBinary, data: toBuffer(data) });
        ws.send(data, { binary: isBinary });
      });
      ws.on('ping', (data) => received.push({ type: 'ping', data: Buffer.from(data) }));
      ws.on('pong', (data) => received.push({ type: 'pong', data: Buffer.from(data) }));
      ws.on('close', (code, reason) => received.push({ type: 'close', code, reason: reason.toString() }));
      ws.on('error', (err) => received.push({ type: 'protocol-error', closeCode: 0, message: err.message }));
      peers.push({ ws, received });
    });
    await onceWithin(wss, 'listening');
    port = (wss.address() as net.AddressInfo).port;
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.destroy();
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  async function connect(protocols: string[] = []): Promise<{ client: RawClient; peer: { ws: WebSocket; received: AsyncQueue<Received> } }> {
    const client = await RawClient.connect(port, protocols, '/interop?x=1');
    clients.push(client);
    const peer = await peers.next(WAIT_MS, 'the ws server connection');
    return { client, peer };
  }

  test('ws accepts our handshake request; its 101 passes our validation, with the subprotocol it picked', async () => {
    const plain = await connect();
    expect(plain.client.outcome).toEqual({ protocol: '', extensions: '', deflate: null });
    expect(plain.peer.ws.protocol).toBe('');
    const chosen = await connect(['chat', 'superchat']);
    expect(chosen.client.outcome).toEqual({ protocol: 'superchat', extensions: '', deflate: null });
    expect(chosen.peer.ws.protocol).toBe('superchat');
  });

  test('text and binary of every length class, masked by our writer, arrive intact and echo back through our parser', async () => {
    const { client, peer } = await connect();
    const text = 'héllo € 😀';
    const sizes = [0, 1, 125, 126, 65535, 65536, 200000];
    client.send(Opcode.TEXT, text);
    for (const size of sizes) {
      const payload = Buffer.alloc(size);
      for (let i = 0; i < size; i++) payload[i] = (i * 7 + size) & 0xff;
      client.send(Opcode.BINARY, payload);
    }
    const got = await peer.received.next(WAIT_MS, 'text at ws');
    expect(got).toEqual({ type: 'message', isText: true, data: Buffer.from(text) });
    const echoed = await client.next();
    expect(echoed).toEqual({ type: 'message', isText: true, data: Buffer.from(text) });
    for (const size of sizes) {
      const atWs = await peer.received.next(WAIT_MS, `binary of ${size} bytes at ws`);
      const back = await client.next();
      for (const m of [atWs, back]) {
        expect(m.type === 'message' && !m.isText && m.data.length).toBe(size);
        const data = (m as { data: Buffer }).data;
        for (let i = 0; i < size; i += 997) expect(data[i]).toBe((i * 7 + size) & 0xff);
      }
    }
  });

  test('a fragmented message with control frames between the fragments', async () => {
    const { client, peer } = await connect();
    client.send(Opcode.TEXT, Buffer.from('Hel€').subarray(0, 4), false); // "Hel" + the first byte of "€"
    client.send(Opcode.PING, 'between');
    client.send(Opcode.CONTINUATION, Buffer.from('€').subarray(1), false);
    client.send(Opcode.CONTINUATION, 'lo');
    expect(await peer.received.next(WAIT_MS, 'ping at ws')).toEqual({ type: 'ping', data: Buffer.from('between') });
    expect(await peer.received.next(WAIT_MS, 'message at ws')).toEqual({ type: 'message', isText: true, data: Buffer.from('Hel€lo') });
    // ws answers the Ping with a Pong carrying its payload, then echoes the message.
    expect(await client.next()).toEqual({ type: 'pong', data: Buffer.from('between') });
    expect(await client.next()).toEqual({ type: 'message', isText: true, data: Buffer.from('Hel€lo') });
  });

  test('our frames written one byte per write still parse at ws', async () => {
    const { client, peer } = await connect();
    const bytes = Buffer.concat([
      ...encodeFrame(Opcode.BINARY, Buffer.from([1, 2, 3, 4, 5]), { mask: new MaskPool() }),
      ...encodeFrame(Opcode.TEXT, Buffer.from('x'.repeat(300)), { mask: new MaskPool() }),
    ]);
    for (const byte of bytes) client.socket.write(Buffer.of(byte));
    expect(await peer.received.next(WAIT_MS, 'binary at ws')).toEqual({ type: 'message', isText: false, data: Buffer.from([1, 2, 3, 4, 5]) });
    expect(await peer.received.next(WAIT_MS, 'text at ws')).toEqual({ type: 'message', isText: true, data: Buffer.from('x'.repeat(300)) });
  });

  test('a message ws sends in fragments, with a Ping between them, reaches our parser in order', async () => {
    const { client, peer } = await connect();
    peer.ws.send(Buffer.from('frag'), { binary: false, fin: false });
    peer.ws.ping(Buffer.from('mid'));
    peer.ws.send(Buffer.from('men'), { binary: false, fin: false });
    peer.ws.send(Buffer.from('ted ✓'), { binary: false, fin: true });
    expect(await client.next()).toEqual({ type: 'ping', data: Buffer.from('mid') });
    expect(await client.next()).toEqual({ type: 'message', isText: true, data: Buffer.from('fragmented ✓') });
  });

  test("ws's Pings reach our parser with their payload", async () => {
    const { client, peer } = await connect();
    peer.ws.ping(Buffer.from('from ws'));
    peer.ws.ping();
    expect(await client.next()).toEqual({ type: 'ping', data: Buffer.from('from ws') });
    expect(await client.next()).toEqual({ type: 'ping', data: Buffer.alloc(0) });
  });

  test('our Close with a code and reason: ws sees them and answers with the same code', async () => {
    const { client, peer } = await connect();
    const tcpClosed = onceWithin(client.socket, 'close');
    client.send(Opcode.CLOSE, encodeCloseBody(1000, Buffer.from('bye €')));
    expect(await peer.received.next(WAIT_MS, 'close at ws')).toEqual({ type: 'close', code: 1000, reason: 'bye €' });
    expect(await client.next()).toMatchObject({ type: 'close', code: 1000 });
    // RFC 6455 §7.1.1: the server closes TCP first once both Close frames have passed.
    await tcpClosed;
  });

  test("ws's Close with a code and a reason reaches our parser", async () => {
    const { client, peer } = await connect();
    peer.ws.close(4000, 'done ✓');
    expect(await client.next()).toEqual({ type: 'close', code: 4000, reason: 'done ✓' });
  });

  test('an unmasked frame (as only a server may send) is refused by ws with a 1002 Close, which our parser reads', async () => {
    const { client, peer } = await connect();
    client.socket.write(Buffer.concat(encodeFrame(Opcode.TEXT, Buffer.from('no mask'))));
    expect(await client.next()).toMatchObject({ type: 'close', code: 1002 });
    const events = [await peer.received.next(WAIT_MS, 'error at ws'), await peer.received.next(WAIT_MS, 'close at ws')];
    expect(events.map((e) => e.type)).toEqual(['protocol-error', 'close']);
  });
});

test('a ws server that supports permessage-deflate does not use it when the request does not offer it', async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0 } });
  const connected = onceWithin(wss, 'connection');
  try {
    await onceWithin(wss, 'listening');
    const client = await RawClient.connect((wss.address() as net.AddressInfo).port);
    const [ws] = (await connected) as [WebSocket];
    expect(client.outcome.extensions).toBe('');
    expect(ws.extensions).toBe('');
    // With compression negotiated, ws would set RSV1 and our parser would fail with 1002.
    ws.send('x'.repeat(1000));
    expect(await client.next()).toEqual({ type: 'message', isText: true, data: Buffer.from('x'.repeat(1000)) });
    client.socket.destroy();
  } finally {
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
});

describe('a ws client against our TestServer', () => {
  let server: TestServer;
  const clients: WebSocket[] = [];

  beforeEach(async () => {
    server = await TestServer.start();
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.terminate();
    await server.close();
  });

  async function open(protocols?: string[]): Promise<WebSocket> {
    const ws = new WebSocket(server.url('/ws-client'), protocols);
    clients.push(ws);
    await onceWithin(ws, 'open');
    return ws;
  }

  test('the handshake: ws accepts our 101, with the first offered subprotocol and no extension', async () => {
    const ws = await open(['chat', 'superchat']);
    expect(ws.protocol).toBe('chat');
    // ws offers permessage-deflate by default; we do not negotiate it, and ws goes on without it.
    expect(ws.extensions).toBe('');
    const conn = await server.nextConnection();
    expect(conn.request.resource).toBe('/ws-client');
    expect(conn.request.protocols).toEqual(['chat', 'superchat']);
  });

  test('text and binary round trips, including 16- and 64-bit lengths', async () => {
    const ws = await open();
    const conn = await server.nextConnection();
    const messages: [Buffer, boolean][] = [];
    ws.on('message', (data, isBinary) => messages.push([toBuffer(data), isBinary]));

    ws.send('héllo € 😀');
    expect(await conn.nextText()).toBe('héllo € 😀');
    const sizes = [0, 125, 126, 65535, 65536, 300000];
    for (const size of sizes) {
      const payload = Buffer.alloc(size);
      for (let i = 0; i < size; i++) payload[i] = (i * 13) & 0xff;
      ws.send(payload);
      const got = await conn.nextBinary();
      expect(got.equals(payload)).toBe(true);
    }
    while (messages.length < 1 + sizes.length) await onceWithin(ws, 'message');
    expect(messages[0]).toEqual([Buffer.from('héllo € 😀'), false]);
    messages.slice(1).forEach(([data, isBinary], i) => {
      expect(isBinary).toBe(true);
      expect(data.length).toBe(sizes[i]);
    });
  });

  test("a message ws sends in fragments arrives as one, and ws's text reaches us as text", async () => {
    const ws = await open();
    const conn = await server.nextConnection();
    ws.send('frag', { fin: false });
    ws.send('men', { fin: false });
    ws.send('ted', { fin: true });
    expect(await conn.nextText()).toBe('fragmented');
  });

  test('pings both ways carry their payload, and each side answers with a Pong', async () => {
    const ws = await open();
    const conn = await server.nextConnection();
    const pongAtWs = onceWithin(ws, 'pong');
    ws.ping(Buffer.from('abc'));
    expect(await conn.next('ping')).toEqual({ type: 'ping', data: Buffer.from('abc') });
    const [pong] = (await pongAtWs) as [Buffer];
    expect(pong.toString()).toBe('abc');

    const pingAtWs = onceWithin(ws, 'ping');
    conn.ping(Buffer.from('xyz'));
    const [ping] = (await pingAtWs) as [Buffer];
    expect(ping.toString()).toBe('xyz');
    expect(await conn.next('pong')).toEqual({ type: 'pong', data: Buffer.from('xyz') });
  });

  test('a close started by ws: our server sees the code and reason and echoes them', async () => {
    const ws = await open();
    const conn = await server.nextConnection();
    const closedAtWs = onceWithin(ws, 'close');
    ws.close(4000, 'done');
    expect(await conn.next('close')).toEqual({ type: 'close', code: 4000, reason: 'done' });
    const [code, reason] = (await closedAtWs) as [number, Buffer];
    expect({ code, reason: reason.toString() }).toEqual({ code: 4000, reason: 'done' });
    await conn.closed;
  });

  test('a close started by our server reaches ws with its code and reason', async () => {
    const ws = await open();
    const conn = await server.nextConnection();
    const closedAtWs = onceWithin(ws, 'close');
    conn.close(1001, 'going away');
    const [code, reason] = (await closedAtWs) as [number, Buffer];
    expect({ code, reason: reason.toString() }).toEqual({ code: 1001, reason: 'going away' });
    expect(await conn.next('close')).toEqual({ type: 'close', code: 1001, reason: 'going away' });
  });

  test('an empty Close from ws is reported as 1005 by our parser', async () => {
    const ws = await open();
    const conn = await server.nextConnection();
    const closedAtWs = onceWithin(ws, 'close');
    ws.close();
    expect(await conn.next('close')).toEqual({ type: 'close', code: 1005, reason: '' });
    const [code] = (await closedAtWs) as [number];
    expect(code).toBe(1005);
  });
});
