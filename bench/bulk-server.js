'use strict';
/**
 * The bulk server of the stream benchmarks, started by echo-server.js next to the echo server,
 * built on the engine in dist/ (handshake, frame, parser). By the request path:
 *
 * - `/download?bytes=N&size=M`: sends N bytes as binary messages of M bytes, as fast as the
 *   socket takes them (it waits for 'drain' whenever write() returns false, so a client that
 *   stops reading stops it), then a Close frame (1000), and ends TCP after the client's Close.
 * - `/upload`: reads and discards messages; answers the client's Close frame with 1000 and the
 *   number of payload bytes received as the reason, then ends TCP.
 */

const net = require('node:net');
const { once } = require('node:events');
const { buildServerResponse, HttpHeadReader, validateClientRequest } = require('../dist/handshake.js');
const { encodeCloseBody, frameHeadSize, writeFrameHead } = require('../dist/frame.js');
const { FrameParser } = require('../dist/parser.js');

const BINARY = 0x2;
const CLOSE = 0x8;

function closeFrame(code, reason) {
  const body = encodeCloseBody(code, Buffer.from(reason, 'utf8'));
  const head = Buffer.alloc(frameHeadSize(body.length, false));
  writeFrameHead(head, 0, CLOSE, body.length, undefined);
  return Buffer.concat([head, body]);
}

/** Resolves on the socket's next 'drain', or when it closes. */
function drained(socket) {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

async function download(socket, bytes, size) {
  const payload = Buffer.alloc(size, 7);
  const head = Buffer.alloc(frameHeadSize(size, false));
  writeFrameHead(head, 0, BINARY, size, undefined);
  for (let sent = 0; sent < bytes && !socket.destroyed; sent += size) {
    socket.cork();
    socket.write(head);
    const ok = socket.write(payload);
    socket.uncork();
    if (!ok) await drained(socket);
  }
  if (!socket.destroyed) socket.write(closeFrame(1000, 'done'));
}

/** Starts the server on 127.0.0.1, port 0; resolves with it once it listens. */
async function startBulkServer() {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    const reader = new HttpHeadReader();
    let parser = null;
    let closeSent = false;
    let received = 0;
    const sink = {
      onMessage(isText, data) {
        received += data.length;
      },
      onPing() {},
      onPong() {},
      onClose() {
        if (!closeSent) socket.write(closeFrame(1000, String(received)));
        closeSent = true;
        socket.end();
      },
      onProtocolError() {
        socket.destroy();
      },
    };
    socket.on('data', (chunk) => {
      if (parser !== null) return parser.push(chunk);
      const result = reader.push(chunk);
      if (result.kind === 'more') return;
      const request = result.kind === 'head' ? validateClientRequest(result.head) : 'bad head';
      if (typeof request === 'string') return socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      socket.write(buildServerResponse(request.key));
      parser = new FrameParser(sink, { role: 'server', maxMessageSize: 1 << 30 });
      const url = new URL(request.resource, 'ws://localhost');
      if (url.pathname === '/download') {
        closeSent = true;
        download(socket, Number(url.searchParams.get('bytes')), Number(url.searchParams.get('size')));
      }
      if (result.rest.length > 0) parser.push(result.rest);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

module.exports = { startBulkServer };
