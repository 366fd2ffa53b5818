#!/usr/bin/env node
// `npm start`: browser-style WebSocket code run on Node through the global this package installs.
// Without an argument it starts the tiny in-process echo server (built on the package's own
// engine) on 127.0.0.1 and talks to it; with a URL argument it talks to that server instead,
// which must echo what it receives.
'use strict';
require('../dist/index.js');
const { TestServer } = require('../dist/server.js');

async function main() {
  const given = process.argv[2];
  // The embedded server agrees to permessage-deflate, as most production servers do.
  const server = given === undefined ? await TestServer.start({ mode: 'echo', perMessageDeflate: true }) : null;
  const url = given ?? server.url('/demo');
  console.log(`connecting to ${url}${server ? ' (the embedded echo server)' : ''}`);

  // From here on this is the code a browser page would run.
  const ws = new WebSocket(url);
  const steps = [
    { send: 'hello from Node', expect: 'string' },
    { send: new Uint8Array([1, 2, 3, 4]).buffer, expect: 'Blob', binaryType: 'blob' },
    { send: new Float64Array([Math.PI]), expect: 'ArrayBuffer', binaryType: 'arraybuffer' },
    { send: 'ünïcödé ✓ 😀', expect: 'string' },
  ];
  let step = 0;

  ws.onopen = () => {
    console.log(`open: readyState=${ws.readyState} protocol=${JSON.stringify(ws.protocol)} extensions=${JSON.stringify(ws.extensions)}`);
    next();
  };
  ws.onmessage = async (event) => {
    const data = event.data;
    const kind = typeof data === 'string' ? 'string' : data instanceof Blob ? 'Blob' : data.constructor.name;
    const shown =
      typeof data === 'string'
        ? JSON.stringify(data)
        : data instanceof Blob
          ? `${data.size} bytes [${new Uint8Array(await data.arrayBuffer()).join(', ')}]`
          : `${data.byteLength} bytes [${new Uint8Array(data).join(', ')}]`;
    const ok = kind === steps[step].expect;
    console.log(`message ${step + 1}: ${kind} ${shown} from ${event.origin}${ok ? '' : `  (expected ${steps[step].expect})`}`);
    if (!ok) process.exitCode = 1;
    step++;
    next();
  };
  ws.onerror = () => {
    console.log('error (the cause is published on diagnostics_channel "polyfill:websocket:fail")');
    process.exitCode = 1;
  };
  ws.onclose = (event) => {
    console.log(`close: code=${event.code} reason=${JSON.stringify(event.reason)} wasClean=${event.wasClean}`);
    if (!event.wasClean) process.exitCode = 1;
    if (server) server.close();
  };

  function next() {
    if (step === steps.length) {
      console.log(`all ${steps.length} round trips done; bufferedAmount=${ws.bufferedAmount}; closing`);
      ws.close(1000, 'bye');
      return;
    }
    const { send, binaryType } = steps[step];
    if (binaryType) ws.binaryType = binaryType;
    ws.send(send);
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
