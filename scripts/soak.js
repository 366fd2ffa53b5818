#!/usr/bin/env node
'use strict';
// Soak: connect/send/close cycles through the fault-injecting proxy, for a duration, with a
// bounded number in flight. Every cycle checks the contract (an in-order prefix of what was sent
// arrives; exactly one close; a cut is never clean); the run prints RSS, heap and open handles
// over time, and ends by itself.
//   node --expose-gc scripts/soak.js [--seconds N] [--concurrency N] [--every S] [--json]
// Runs on dist/ (npm run soak builds it first). Exits 1 if any cycle broke the contract.
const path = require('node:path');
const dist = path.resolve(__dirname, '..', 'dist');
const { FaultProxy, prng } = require(path.join(dist, 'fault-proxy.js'));
const { TestServer } = require(path.join(dist, 'server.js'));
const { WebSocket } = require(path.join(dist, 'ponyfill.js'));

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const seconds = option('--seconds', 60);
const concurrency = option('--concurrency', 16);
const every = option('--every', Math.max(1, Math.round(seconds / 10)));
const json = args.includes('--json');

/** A fault schedule for cycle `n`: most cycles re-chunk only, some reset or half-close. */
function scheduleFor(n) {
  const random = prng(n + 1);
  const schedule = { seed: n + 1, maxChunk: random() < 0.5 ? 1 + Math.floor(random() * 64) : undefined };
  const pick = random();
  const direction = random() < 0.5 ? 'up' : 'down';
  if (pick < 0.2) schedule.reset = { direction, at: Math.floor(random() * 1500) };
  else if (pick < 0.3) schedule.reset = { direction: 'down', at: 'after-close' };
  else if (pick < 0.4) schedule.fin = { direction, at: Math.floor(random() * 1500) };
  return schedule;
}

/** One cycle: open, send a few messages, close once their echoes are back. */
function cycle(port, n) {
  const random = prng(n * 7 + 3);
  const count = Math.floor(random() * 6);
  const sent = [];
  for (let i = 0; i < count; i++) sent.push(random() < 0.5 ? `#${n}.${i} ${'x'.repeat(Math.floor(random() * 300))}` : Buffer.alloc(Math.floor(random() * 300), i));
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.binaryType = 'arraybuffer';
    const received = [];
    let closes = 0;
    let problem = null;
    ws.onopen = () => {
      for (const m of sent) ws.send(m);
      if (count === 0) ws.close(1000);
    };
    ws.onmessage = (event) => {
      received.push(event.data);
      if (received.length === count) ws.close(1000);
    };
    ws.onclose = (event) => {
      closes++;
      for (let i = 0; i < received.length && problem === null; i++) {
        const a = sent[i];
        const b = received[i];
        const same = typeof a === 'string' ? a === b : b instanceof ArrayBuffer && Buffer.from(b).equals(a);
        if (!same) problem = `message ${i} differs`;
      }
      if (received.length > sent.length) problem = 'more messages than were sent';
      if (event.wasClean && received.length !== count) problem = 'clean close with messages missing';
      // Another close event would show up as a second call before the next turn.
      setImmediate(() => resolve(closes === 1 ? problem : `${closes} close events`));
    };
  });
}

async function main() {
  const server = await TestServer.start({ mode: 'echo', fastEcho: true });
  let n = 0;
  const proxy = await FaultProxy.start(server.server.address(), (index) => scheduleFor(index), { keepLogs: false });
  const started = Date.now();
  const deadline = started + seconds * 1000;
  const samples = [];
  const problems = [];
  let cycles = 0;
  const sample = () => {
    if (global.gc) global.gc();
    const m = process.memoryUsage();
    const handles = typeof process.getActiveResourcesInfo === 'function' ? process.getActiveResourcesInfo().length : NaN;
    const row = { s: Math.round((Date.now() - started) / 1000), cycles, rssMB: +(m.rss / 1048576).toFixed(1), heapMB: +(m.heapUsed / 1048576).toFixed(1), externalMB: +(m.external / 1048576).toFixed(1), handles };
    samples.push(row);
    if (!json) console.log(`${String(row.s).padStart(5)} s  ${String(row.cycles).padStart(8)} cycles  rss ${row.rssMB} MB  heap ${row.heapMB} MB  external ${row.externalMB} MB  handles ${row.handles}`);
  };
  sample();
  const timer = setInterval(sample, every * 1000);
  const lane = async () => {
    while (Date.now() < deadline) {
      const problem = await cycle(proxy.port, n++);
      cycles++;
      if (problem !== null && problems.length < 20) problems.push({ cycle: n - 1, problem });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  clearInterval(timer);
  // Every client has seen its close; with the proxy and server stopped too, nothing of the
  // run may be left: the final sample should show the handles of the start.
  await proxy.close();
  await server.close();
  await new Promise((resolve) => setImmediate(resolve));
  sample();
  const report = { seconds, concurrency, cycles, cyclesPerSecond: Math.round(cycles / ((Date.now() - started) / 1000)), problems, samples };
  if (json) console.log(JSON.stringify(report));
  else console.log(`\n${cycles} cycles, ${report.cyclesPerSecond}/s, ${problems.length} problems${problems.length ? `: ${JSON.stringify(problems)}` : ''}`);
  process.exitCode = problems.length === 0 ? 0 : 1;
}

main();
