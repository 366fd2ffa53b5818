'use strict';
/**
 * The echo server for the API benchmark, in its own process so that its CPU time is not the
 * clients'. `ws` (default) uses the ws package's WebSocketServer; `ours` uses dist/server.js.
 * It tells the parent its port, and answers `{ type: 'cpu' }` with its CPU time and RSS, so the
 * parent can show whether the server was the bottleneck. Next to it runs the bulk server of the
 * stream benchmarks (bulk-server.js), whose port is reported too.
 */

const mode = process.argv[2] || 'ws';

async function start() {
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
    return wss.address().port;
  }
  if (mode === 'ours') {
    const { TestServer } = require('../dist/server.js');
    // fastEcho: nothing recorded, and the echoes of one read leave in one write.
    const server = await TestServer.start({ mode: 'echo', fastEcho: true });
    return server.port;
  }
  throw new Error(`unknown server '${mode}'; use ws or ours`);
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
  ([port, bulk]) => process.send({ type: 'ready', port, bulkPort: bulk.address().port, mode }),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
