'use strict';
/**
 * The echo server for the API benchmark, in its own process so that its CPU time is not the
 * clients'. `ws` (default) uses the ws package's WebSocketServer; `ours` uses dist/server.js;
 * `ours-deflate` and `ws-deflate` are the same with permessage-deflate, for the deflate workloads.
 * It tells the parent its port, and answers `{ type: 'cpu' }` with its CPU time and RSS, so the
 * parent can show whether the server was the bottleneck. Next to it runs the bulk server of the
 * stream benchmarks (bulk-server.js), whose port is reported too.
 */

const { feed } = require('./feed.js');

const mode = process.argv[2] || 'ws';

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
  return { port: fast.port, lightPort: light.port, downloadRatio: ratio };
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
  return { port: wss.address().port, lightPort: wss.address().port };
}

async function start() {
  if (mode === 'ours-deflate') return startDeflate();
  if (mode === 'ws-deflate') return startWsDeflate();
  if (mode === 'ws') {
    const { WebSocketServer } = require('ws');
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      backlog: 4096,
      perMessageDeflate: false,
      maxPayload: 256 * 1024 * 1024,
      clientTracking: false,
    });
    wss.on('connection', (ws) => {
      ws.on('error', () => {});
      // The received Buffer goes back as it is: server frames are not masked, so nothing is copied.
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    await new Promise((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    return { port: wss.address().port };
  }
  if (mode === 'ours') {
    const { TestServer } = require('../dist/server.js');
    // fastEcho: nothing recorded, and the echoes of one read leave in one write.
    const server = await TestServer.start({ mode: 'echo', fastEcho: true });
    return { port: server.port };
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
  ([ports, bulk]) => process.send({ type: 'ready', ...ports, bulkPort: bulk.address().port, mode }),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
