'use strict';
/**
 * Engine micro-benchmark, run in its own process by bench/run.js (or alone:
 * `node bench/micro.js --reps 7`). Compares, on pre-built data and without sockets:
 * - parsing unmasked server frames: our FrameParser (client role) vs ws's Receiver;
 * - framing masked client frames: our encodeFrame + MaskPool vs ws's Sender.frame.
 * Repetitions alternate ours, ws, ours, ws... after one warm-up of each. Prints JSON on stdout.
 */

const { performance } = require('node:perf_hooks');
const { FrameParser } = require('../dist/parser.js');
const { encodeFrame, MaskPool } = require('../dist/frame.js');
// ws's package exports hide lib/, but its main module exposes the same classes.
const { Receiver, Sender } = require('ws');

const BINARY = 0x2;
const CHUNK = 64 * 1024; // what a socket read on loopback typically delivers

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}
const reps = arg('reps', 7);
const scale = arg('scale', 1); // < 1 shortens every repetition (for a quick run)

/** Server-to-client frames (unmasked) of `size` bytes each, `count` of them, cut into socket-sized chunks. */
function buildStream(size, count) {
  const payload = Buffer.alloc(size, 0x61);
  const parts = [];
  for (let i = 0; i < count; i++) {
    const [head, body] = encodeFrame(BINARY, payload);
    parts.push(head, body);
  }
  const stream = Buffer.concat(parts);
  const chunks = [];
  for (let o = 0; o < stream.length; o += CHUNK) chunks.push(stream.subarray(o, Math.min(o + CHUNK, stream.length)));
  return chunks;
}

function parseOurs(chunks, expected, passes) {
  let frames = 0;
  let bytes = 0;
  const sink = {
    onMessage(isText, data) {
      frames++;
      bytes += data.length;
    },
    onPing() {},
    onPong() {},
    onClose() {},
    onProtocolError(code, message) {
      throw new Error(`our parser failed: ${code} ${message}`);
    },
  };
  const parser = new FrameParser(sink, { role: 'client' });
  const t0 = performance.now();
  for (let p = 0; p < passes; p++) for (let i = 0; i < chunks.length; i++) parser.push(chunks[i]);
  const ms = performance.now() - t0;
  if (frames !== expected * passes) throw new Error(`our parser reported ${frames} of ${expected} frames`);
  return { ms, frames, bytes };
}

function parseWs(chunks, expected, passes) {
  let frames = 0;
  let bytes = 0;
  const receiver = new Receiver({ isServer: false, binaryType: 'nodebuffer' });
  receiver.on('message', (data) => {
    frames++;
    bytes += data.length;
  });
  receiver.on('error', (err) => {
    throw err;
  });
  const t0 = performance.now();
  // write() is the path ws's WebSocket takes for every socket read.
  for (let p = 0; p < passes; p++) for (let i = 0; i < chunks.length; i++) receiver.write(chunks[i]);
  const ms = performance.now() - t0;
  if (frames !== expected * passes) throw new Error(`ws Receiver reported ${frames} of ${expected} frames`);
  return { ms, frames, bytes };
}

function encodeOurs(payload, count) {
  const pool = new MaskPool();
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const [head, body] = encodeFrame(BINARY, payload, { mask: pool });
    sink ^= head[1] ^ body[0];
  }
  const ms = performance.now() - t0;
  return { ms, frames: count, bytes: count * payload.length, sink };
}

function encodeWs(payload, count) {
  // readOnly: the caller's bytes must not be masked in place, as for ws.send(buffer).
  const options = { fin: true, rsv1: false, opcode: BINARY, mask: true, readOnly: true };
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const list = Sender.frame(payload, options);
    sink ^= list[0][1] ^ list[list.length - 1][list[list.length - 1].length - 1];
  }
  const ms = performance.now() - t0;
  return { ms, frames: count, bytes: count * payload.length, sink };
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function summarize(runs) {
  const mbps = runs.map((r) => r.bytes / 1e6 / (r.ms / 1000));
  const fps = runs.map((r) => r.frames / (r.ms / 1000));
  return {
    mbps: { median: median(mbps), min: Math.min(...mbps), max: Math.max(...mbps) },
    fps: { median: median(fps), min: Math.min(...fps), max: Math.max(...fps) },
    runs,
  };
}

const sizes = [
  // The stream ends on a frame boundary, so a repetition may feed it several times (passes).
  { label: '16 B', size: 16, parseCount: 400000, passes: 1, encodeCount: 1000000 },
  { label: '64 KiB', size: 64 * 1024, parseCount: 512, passes: 8, encodeCount: 4096 },
  { label: '1 MiB', size: 1024 * 1024, parseCount: 32, passes: 8, encodeCount: 256 },
];

const results = [];
for (const s of sizes) {
  const parseCount = Math.max(1, Math.round(s.parseCount * scale));
  const encodeCount = Math.max(1, Math.round(s.encodeCount * scale));
  const chunks = buildStream(s.size, parseCount);
  const payload = Buffer.alloc(s.size, 0x62);
  for (const [kind, ours, theirs, input, count, passes] of [
    ['parse', parseOurs, parseWs, chunks, parseCount, s.passes],
    ['encode', encodeOurs, encodeWs, payload, encodeCount, 1],
  ]) {
    ours(input, count, passes); // warm-up
    theirs(input, count, passes);
    const a = [];
    const b = [];
    for (let r = 0; r < reps; r++) {
      a.push(ours(input, count, passes));
      b.push(theirs(input, count, passes));
    }
    const row = { kind, label: s.label, size: s.size, count: count * passes, ours: summarize(a), ws: summarize(b) };
    results.push(row);
    process.stderr.write(
      `[micro] ${kind} ${s.label}: ours ${row.ours.mbps.median.toFixed(0)} MB/s, ws ${row.ws.mbps.median.toFixed(0)} MB/s\n`,
    );
  }
}
process.stdout.write(JSON.stringify({ reps, scale, chunkSize: CHUNK, results }));
