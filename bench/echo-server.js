'use strict';
/**
 * The server of the API benchmark, in its own process so that its CPU time is not the clients'.
 * `ws` (default) uses the ws package's WebSocketServer; `ours` uses dist/server.js for echoes and
 * a small server on the engine's own modules (dist/handshake.js, parser.js, frame.js) for the
 * one-way workloads. Each offers three endpoints:
 * - echo (`/`): every message goes back as it came;
 * - sink (`/sink?ack=N`): messages are counted, and after every N-th one the count goes back as
 *   a text message, the application-level ack that bounds an upload's window;
 * - source (`/source`): each text message `{"kind","size","count","window"}` asks for `count`
 *   messages of bench/payloads.js's `kind` and `size`, at most `window` of them written and not
 *   yet flushed to the kernel at a time.
 * `ours-deflate` and `ws-deflate` serve the permessage-deflate workloads (below). It tells the
 * parent its URLs, and answers `{ type: 'cpu' }` with its CPU time and RSS, so the parent can show
 * whether the server was the bottleneck. Next to it runs the bulk server of the stream benchmarks
 * (bulk-server.js), whose URL is reported too.
 */

const net = require('node:net');
const { feed } = require('./feed.js');
const { payload } = require('./payloads.js');

const mode = process.argv[2] || 'ws';

/** The ack window: how many messages the sink counts before telling the client. */
function ackEvery(url) {
  const n = Number(new URL(url, 'ws://x').searchParams.get('ack'));
  return Number.isInteger(n) && n > 0 ? n : 1;
}

/**
 * Serves one source request on a connection: `send(payloadBytes, isText, callback)` writes one
 * message and calls back once it is flushed.
 */
function serveSource(request, send) {
  const p = payload(request.kind, request.size);
  let sent = 0;
  let flushed = 0;
  const onFlushed = (error) => {
    if (error) return;
    flushed++;
    fill();
  };
  const fill = () => {
    while (sent < request.count && sent - flushed < request.window) {
      sent++;
      send(p.bytes, p.text, onFlushed);
    }
  };
  fill();
}

async function startWs() {
  const { WebSocketServer } = require('ws');
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    backlog: 4096,
    perMessageDeflate: false,
    maxPayload: 256 * 1024 * 1024,
    clientTracking: false,
  });
  wss.on('connection', (ws, req) => {
    ws.on('error', () => {});
    const url = req.url || '/';
    if (url.startsWith('/sink')) {
      const ack = ackEvery(url);
      let count = 0;
      ws.on('message', () => {
        if (++count % ack === 0) ws.send(String(count));
      });
    } else if (url.startsWith('/source')) {
      ws.on('message', (data) => serveSource(JSON.parse(data.toString()), (bytes, text, cb) => ws.send(bytes, { binary: !text }, cb)));
    } else {
      // The received Buffer goes back as it is: server frames are not masked, so nothing is copied.
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    }
  });
  await new Promise((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const base = `ws://127.0.0.1:${wss.address().port}`;
  return { echo: `${base}/`, sink: `${base}/sink`, source: `${base}/source` };
}

/** A sink and source server on the engine's modules: the same framing the tests' server uses. */
async function startOursOneWay() {
  const { HttpHeadReader, validateClientRequest, buildServerResponse } = require('../dist/handshake.js');
  const { FrameParser } = require('../dist/parser.js');
  const { encodeCloseBody, frameHeadSize, writeFrameHead } = require('../dist/frame.js');
  const TEXT = 0x1;
  const BINARY = 0x2;
  const CLOSE = 0x8;
  const PONG = 0xa;

  class OneWayConnection {
    constructor(socket, resource) {
      this.socket = socket;
      this.parser = new FrameParser(this, { role: 'server', maxMessageSize: 256 * 1024 * 1024 });
      this.source = resource.startsWith('/source');
      this.ack = ackEvery(resource);
      this.count = 0;
      this.closing = false;
    }
    frame(opcode, data, callback) {
      const socket = this.socket;
      if (socket.destroyed) return;
      const head = Buffer.allocUnsafe(frameHeadSize(data.length, false));
      writeFrameHead(head, 0, opcode, data.length, undefined);
      if (data.length === 0) {
        socket.write(head, callback);
        return;
      }
      socket.cork();
      socket.write(head);
      socket.write(data, callback);
      socket.uncork();
    }
    onMessage(isText, data) {
      if (this.closing) return;
      if (this.source) {
        serveSource(JSON.parse(data.toString()), (bytes, text, cb) => this.frame(text ? TEXT : BINARY, bytes, cb));
      } else if (++this.count % this.ack === 0) {
        this.frame(TEXT, Buffer.from(String(this.count)));
      }
    }
    onPing(data) {
      this.frame(PONG, Buffer.from(data));
    }
    onPong() {}
    onClose(code) {
      this.closing = true;
      this.frame(CLOSE, encodeCloseBody(code === 1005 ? undefined : code));
      this.socket.end();
    }
    onProtocolError(code) {
      this.closing = true;
      this.frame(CLOSE, encodeCloseBody(code));
      this.socket.end();
    }
  }

  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    const reader = new HttpHeadReader();
    let connection = null;
    socket.on('data', (chunk) => {
      if (connection !== null) {
        connection.parser.push(chunk);
        return;
      }
      const result = reader.push(chunk);
      if (result.kind === 'more') return;
      const request = result.kind === 'head' ? validateClientRequest(result.head) : 'bad head';
      if (typeof request === 'string') {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
        return;
      }
      socket.write(buildServerResponse(request.key));
      connection = new OneWayConnection(socket, request.resource);
      if (result.rest.length > 0) connection.parser.push(result.rest);
    });
  });
  await new Promise((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve));
  const base = `ws://127.0.0.1:${server.address().port}`;
  return { sink: `${base}/sink`, source: `${base}/source` };
}

// ---- permessage-deflate workloads -------------------------------------------------------------
//
// A connection to /download asks for compressed 64 KiB JSON messages with "go <n>"; one to
// /upload gets a 1-byte uncompressed "k" for every message it sends, and its counts with "stats";
// anything else is echoed. Our server sends the download messages pre-compressed: one chain,
// compressed once with context takeover (as a server with one zlib stream per connection would
// send them) and replayed from its start on every connection, so the server costs nothing.


const DOWNLOAD_SIZE = 64 * 1024;
const DOWNLOAD_CHAIN = Number(process.env.BENCH_DOWNLOAD_CHAIN || 1200);

/** Unmasked frames (head + payload) of DOWNLOAD_CHAIN feed messages, compressed as one stream. */
async function downloadChain() {
  const zlib = require('node:zlib');
  const deflate = zlib.createDeflateRaw();
  const frames = [];
  let raw = 0;
  let wire = 0;
  for (let i = 0; i < DOWNLOAD_CHAIN; i++) {
    const text = feed(DOWNLOAD_SIZE, (i % 64) + 1);
    const chunks = [];
    const onData = (c) => chunks.push(c);
    deflate.on('data', onData);
    deflate.write(text);
    await new Promise((resolve) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, resolve));
    deflate.off('data', onData);
    const out = Buffer.concat(chunks);
    const payload = out.subarray(0, out.length - 4);
    const n = payload.length;
    const head = n < 65536 ? Buffer.from([0xc1, 126, n >> 8, n & 0xff]) : Buffer.from([0xc1, 127, 0, 0, 0, 0, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
    frames.push(Buffer.concat([head, payload]));
    raw += text.length;
    wire += n;
  }
  deflate.close();
  return { frames, ratio: wire / raw };
}

async function startDeflate() {
  const { TestServer } = require('../dist/server.js');
  const { frames, ratio } = await downloadChain();
  // What the replayed downloads weigh on the wire, per byte of JSON.
  process.stderr.write(`[ours-deflate] downloads compressed to ${ratio.toFixed(3)} of their size\n`);
  const position = new WeakMap();
  const stats = new WeakMap();
  const onMessage = (conn, isText, data) => {
    const path = conn.request.resource;
    if (path === '/download') {
      const text = data.toString();
      if (!text.startsWith('go ')) return true;
      let at = position.get(conn) || 0;
      const n = Number(text.slice(3));
      conn.socket.cork();
      for (let i = 0; i < n; i++) conn.sendRaw(frames[(at + i) % frames.length]);
      conn.socket.uncork();
      position.set(conn, at + n);
      return true;
    }
    if (path === '/upload') {
      const s = stats.get(conn) || { payload: 0 };
      if (isText && data.length === 5 && data.toString() === 'stats') {
        conn.sendText(JSON.stringify({ bytesRead: conn.socket.bytesRead, payload: s.payload }));
      } else {
        s.payload += data.length;
        stats.set(conn, s);
        conn.sendFrame(1, ACK);
      }
      return true;
    }
    return false;
  };
  // The fast server runs the client's own codec in the server's role; the light one (for the
  // idle workload) keeps no zlib state between messages, so that 10,000 idle connections cost
  // the server little.
  const fast = await TestServer.start({ mode: 'echo', fastEcho: true, perMessageDeflate: { codec: 'engine' }, onMessage });
  const light = await TestServer.start({ mode: 'echo', fastEcho: true, perMessageDeflate: { codec: 'apart' } });
  return { echo: fast.url('/'), light: light.url('/') };
}
const ACK = Buffer.from('k');

async function startWsDeflate() {
  const { WebSocketServer } = require('ws');
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, backlog: 4096, perMessageDeflate: { threshold: 0 }, maxPayload: 256 * 1024 * 1024, clientTracking: false });
  const texts = Array.from({ length: 64 }, (_, i) => feed(DOWNLOAD_SIZE, i + 1));
  wss.on('connection', (ws, req) => {
    ws.on('error', () => {});
    const path = req.url;
    let payload = 0;
    let sent = 0;
    ws.on('message', (data, isBinary) => {
      if (path === '/download') {
        const text = data.toString();
        if (!text.startsWith('go ')) return;
        for (let i = Number(text.slice(3)); i > 0; i--) ws.send(texts[sent++ % 64]);
      } else if (path === '/upload') {
        if (!isBinary && data.length === 5 && data.toString() === 'stats') ws.send(JSON.stringify({ bytesRead: req.socket.bytesRead, payload }), { compress: false });
        else {
          payload += data.length;
          ws.send('k', { compress: false });
        }
      } else {
        ws.send(data, { binary: isBinary });
      }
    });
  });
  await new Promise((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const echo = `ws://127.0.0.1:${wss.address().port}/`;
  return { echo, light: echo };
}

async function start() {
  if (mode === 'ours-deflate') return startDeflate();
  if (mode === 'ws-deflate') return startWsDeflate();
  if (mode === 'ws') return startWs();
  if (mode === 'ours') {
    const { TestServer } = require('../dist/server.js');
    // fastEcho: nothing recorded, and the echoes of one read leave in one write.
    const echo = await TestServer.start({ mode: 'echo', fastEcho: true });
    return { echo: echo.url('/'), ...(await startOursOneWay()) };
  }
  throw new Error(`unknown server '${mode}'; use ws, ours, ours-deflate or ws-deflate`);
}

process.on('message', (m) => {
  if (m && m.type === 'cpu') {
    const u = process.cpuUsage();
    process.send({ type: 'cpu', id: m.id, cpuMs: (u.user + u.system) / 1000, rss: process.memoryUsage().rss });
  } else if (m && m.type === 'exit') {
    process.exit(0);
  }
});
// The parent going away ends the server too.
process.on('disconnect', () => process.exit(0));

Promise.all([start(), require('./bulk-server.js').startBulkServer()]).then(
  ([urls, bulk]) => process.send({ type: 'ready', urls: { ...urls, bulk: `ws://127.0.0.1:${bulk.address().port}` }, mode }),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
