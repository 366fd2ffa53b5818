'use strict';
/**
 * Benchmark driver: `npm run bench` (builds, then runs this file).
 *
 *   node bench/run.js [--parts micro,api] [--reps 5] [--micro-reps 7] [--impls ours,ws,undici]
 *                     [--workloads latency,small-text,...] [--idle 10000] [--idle-reps 2]
 *                     [--server ours,ws] [--quick] [--cpu-prof] [--node <path>] [--before <dist dir>]
 *                     [--deflate-server ours,ws] [--ws-threshold 0] [--deflate-quiet-ms 2500]
 *                     [--stream-impls ours-stream,undici-stream,ours] [--stream-reps 3]
 *
 * Part 1 (micro) runs bench/micro.js in a child process. Part 2 (api) starts one server child
 * per server kind (bench/echo-server.js: ours and ws's) and runs every measurement in a fresh
 * client child (bench/client.js), servers and implementations interleaved repetition by
 * repetition. Progress goes to
 * stderr, markdown tables to stdout, raw JSON to bench/results/.
 * The permessage-deflate workloads (`deflate-*`) run against servers that negotiate it
 * (echo-server.js ours-deflate and ws-deflate). The stream workloads (`stream-*`) run
 * WebSocketStreams, ours and undici's, next to our WebSocket, against our server and the bulk
 * server (bulk-server.js) of its process.
 * `--cpu-prof` writes .cpuprofile files of our client's runs to bench/results/prof/.
 */

const { fork, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// ---- arguments ---------------------------------------------------------------------------

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'; options start with --`);
    const eq = a.indexOf('=');
    if (eq !== -1) out[a.slice(2, eq)] = a.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out[a.slice(2)] = argv[++i];
    else out[a.slice(2)] = true;
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));

// `--node <path>` re-runs the benchmark on another Node binary (e.g. node_modules/node-22/bin/node;
// the re-run finds itself on it and goes on). Without it, this node: `prepare` removes the node link that the Node-matrix devDependencies
// would otherwise put first in PATH under `npm run`.
if (args.node && fs.realpathSync(path.resolve(String(args.node))) !== fs.realpathSync(process.execPath)) {
  const wantedNode = path.resolve(String(args.node));
  process.stderr.write(`[bench] re-running on ${wantedNode}\n`);
  const { spawnSync } = require('node:child_process');
  const r = spawnSync(wantedNode, [__filename, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status === null ? 1 : r.status);
}
const quick = Boolean(args.quick);
const parts = String(args.parts || 'micro,api').split(',');
const reps = Number(args.reps || (quick ? 2 : 5));
const microReps = Number(args['micro-reps'] || (quick ? 3 : 7));
const impls = String(args.impls || 'ours,ws,undici').split(',');
// `--before DIR`: a second build of ours (another commit's dist/), run as the implementation
// `before` next to the others, for before/after figures from one run.
const beforeDist = args.before ? path.resolve(String(args.before)) : null;
if (beforeDist !== null && !impls.includes('before')) impls.splice(1, 0, 'before');
for (const impl of impls) {
  if (!['ours', 'ws', 'undici', 'before'].includes(impl)) throw new Error(`unknown implementation '${impl}'; use ours, ws, undici (and before with --before)`);
}
if (impls.includes('before') && beforeDist === null) throw new Error('the implementation before needs --before DIR');
// Both servers by default, interleaved run by run: ours (its echoes of one read leave in one
// write, so it stays far from saturation at rates where ws's server uses most of a core; see the
// server CPU column) and ws's, the server the issue's targets are measured against.
const serverModes = String(args.server || 'ours,ws').split(',');
for (const m of serverModes) if (m !== 'ours' && m !== 'ws') throw new Error(`unknown server '${m}'; use ours, ws or ours,ws`);
// The stream workloads' clients: our WebSocketStream, undici's, and our WebSocket for reference.
const streamImpls = String(args['stream-impls'] || 'ours-stream,undici-stream,ours').split(',');
const streamReps = Number(args['stream-reps'] || (quick ? 1 : 3));
// The permessage-deflate workloads run against servers that negotiate the extension, both by
// default: ours (the client's codec in the server's role, replaying pre-compressed downloads)
// and ws's.
const deflateServerModes = String(args['deflate-server'] || 'ours,ws').split(',');
for (const m of deflateServerModes) if (m !== 'ours' && m !== 'ws') throw new Error(`unknown deflate server '${m}'; use ours, ws or ours,ws`);
// ws compresses messages of this many bytes and more; by default 0, as ours and browsers do,
// so that both do the same work (ws's own default is 1024).
const wsThreshold = args['ws-threshold'] === undefined ? 0 : Number(args['ws-threshold']);
// The deflate idle workload measures memory right after the one message, and again after this
// long without traffic (zlib streams are freed after 1-2 s of it: settings.deflateIdleMs).
const deflateQuietMs = Number(args['deflate-quiet-ms'] ?? 2500);
const cpuProf = Boolean(args['cpu-prof']);
const resultsDir = path.join(__dirname, 'results');

function idleLimit() {
  // Each idle connection costs one descriptor here and one in the server process.
  let limit = 1024;
  try {
    limit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim()) || limit;
  } catch {
    // keep the conservative default
  }
  return limit;
}
const fdLimit = idleLimit();
const idleWanted = Number(args.idle || (quick ? 1000 : 10000));
const idleCount = Math.max(10, Math.min(idleWanted, fdLimit - 500));
const idleReps = Number(args['idle-reps'] || (quick ? 1 : 2));

// ---- workloads ----------------------------------------------------------------------------

const KiB = 1024;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const q = (full, small) => (quick ? small : full);
/** Megabytes (10^6 bytes) of payload that one run moved in its measured direction. */
const mb = (r) => (r.bytes * r.count) / 1e6;

/**
 * Every workload: the client function, its parameters, and how its result becomes table rows.
 * `better` says which direction wins, for the reader of the ratio.
 */
const workloads = [
  {
    name: 'latency',
    op: 'round trip', ops: (r) => r.count,
    fn: 'latency',
    params: { count: q(20000, 4000), warmup: 1000, capMs: 5000 },
    rows: [
      { label: 'round trip, 16 B binary', unit: 'round trips/s', better: 'higher', pick: (r) => r.rate },
      { label: 'round trip p50', unit: 'µs', better: 'lower', pick: (r) => r.p50us },
      { label: 'round trip p99', unit: 'µs', better: 'lower', pick: (r) => r.p99us },
      { label: 'round trip p99.9', unit: 'µs', better: 'lower', pick: (r) => r.p999us },
    ],
  },
  {
    name: 'small-text',
    op: 'message', ops: (r) => r.count,
    fn: 'pipelined',
    params: { text: true, size: 64, count: q(100000, 20000), warmup: 10000, timeoutMs: 60000 },
    rows: [{ label: 'pipelined 100k x 64 B text', unit: 'msg/s', better: 'higher', pick: (r) => r.rate }],
  },
  {
    name: 'small-binary',
    op: 'message', ops: (r) => r.count,
    fn: 'pipelined',
    params: { text: false, size: 64, count: q(100000, 20000), warmup: 10000, timeoutMs: 60000 },
    rows: [{ label: 'pipelined 100k x 64 B binary', unit: 'msg/s', better: 'higher', pick: (r) => r.rate }],
  },
  {
    name: 'binary-1m',
    op: 'MB', ops: mb,
    fn: 'bulk',
    params: { text: false, size: MiB, count: q(128, 32), window: 8, warmup: 16, timeoutMs: 60000 },
    rows: [{ label: '1 MiB binary, echoed', unit: 'MB/s', better: 'higher', pick: (r) => r.rate }],
  },
  {
    name: 'binary-16m',
    op: 'MB', ops: mb,
    fn: 'bulk',
    params: { text: false, size: 16 * MiB, count: q(12, 4), window: 2, warmup: 2, timeoutMs: 90000 },
    rows: [{ label: '16 MiB binary, echoed', unit: 'MB/s', better: 'higher', pick: (r) => r.rate }],
  },
  {
    name: 'utf8-64k',
    op: 'MB', ops: mb,
    fn: 'bulk',
    params: { text: true, size: 64 * 1024, count: q(800, 200), window: 16, warmup: 100, timeoutMs: 60000 },
    rows: [{ label: '64 KiB multi-byte UTF-8 text, echoed', unit: 'MB/s', better: 'higher', pick: (r) => r.rate }],
  },
  // One-way workloads: the sink acks every `ack` messages, so at most `window` are unacked.
  {
    name: 'up-1m',
    op: 'MB', ops: mb,
    fn: 'upload',
    params: { kind: 'binary', size: MiB, count: q(256, 64), window: 32, ack: 4, warmup: 32, timeoutMs: 60000 },
    rows: [{ label: 'upload 1 MiB binary (ack every 4, window 32)', unit: 'MB/s', better: 'higher', pick: (r) => r.rate }],
  },
  {
    name: 'up-16m',
    op: 'MB', ops: mb,
    fn: 'upload',
    params: { kind: 'binary', size: 16 * MiB, count: q(24, 6), window: 2, ack: 1, warmup: 2, timeoutMs: 90000 },
    rows: [{ label: 'upload 16 MiB binary (ack every 1, window 2)', unit: 'MB/s', better: 'higher', pick: (r) => r.rate }],
  },
  {
    name: 'up-json-64k',
    op: 'MB', ops: mb,
    fn: 'upload',
    params: { kind: 'json', size: 64 * 1024, count: q(2048, 512), window: 64, ack: 16, warmup: 128, timeoutMs: 60000 },
    rows: [{ label: 'upload 64 KiB JSON-lines text (ack every 16, window 64)', unit: 'MB/s', better: 'higher', pick: (r) => r.rate }],
  },
  {
    name: 'up-utf8-64k',
    op: 'MB', ops: mb,
    fn: 'upload',
    params: { kind: 'utf8', size: 64 * 1024, count: q(2048, 512), window: 64, ack: 16, warmup: 128, timeoutMs: 60000 },
    rows: [{ label: 'upload 64 KiB multi-byte UTF-8 text (ack every 16, window 64)', unit: 'MB/s', better: 'higher', pick: (r) => r.rate }],
  },
  // The source keeps `window` messages in its writes.
  {
    name: 'down-json-64k',
    op: 'MB', ops: mb,
    fn: 'download',
    params: { kind: 'json', size: 64 * 1024, count: q(2048, 512), window: 16, warmup: 128, timeoutMs: 60000 },
    rows: [{ label: 'download 64 KiB JSON-lines text', unit: 'MB/s', better: 'higher', pick: (r) => r.rate }],
  },
  {
    name: 'down-utf8-64k',
    op: 'MB', ops: mb,
    fn: 'download',
    params: { kind: 'utf8', size: 64 * 1024, count: q(2048, 512), window: 16, warmup: 128, timeoutMs: 60000 },
    rows: [{ label: 'download 64 KiB multi-byte UTF-8 text', unit: 'MB/s', better: 'higher', pick: (r) => r.rate }],
  },
  {
    name: 'down-1m',
    op: 'MB', ops: mb,
    fn: 'download',
    params: { kind: 'binary', size: MiB, count: q(256, 64), window: 4, warmup: 16, timeoutMs: 60000 },
    rows: [{ label: 'download 1 MiB binary', unit: 'MB/s', better: 'higher', pick: (r) => r.rate }],
  },
  {
    name: 'down-16m',
    op: 'MB', ops: mb,
    fn: 'download',
    params: { kind: 'binary', size: 16 * MiB, count: q(24, 6), window: 2, warmup: 2, timeoutMs: 90000 },
    rows: [{ label: 'download 16 MiB binary', unit: 'MB/s', better: 'higher', pick: (r) => r.rate }],
  },
  {
    name: 'connect-seq',
    op: 'connection', ops: (r) => r.count,
    fn: 'connect',
    params: { parallel: 1, count: q(300, 100), warmup: 20 },
    rows: [{ label: 'open + close, sequential', unit: 'conn/s', better: 'higher', pick: (r) => r.rate }],
  },
  {
    name: 'connect-par',
    op: 'connection', ops: (r) => r.count,
    fn: 'connect',
    params: { parallel: 100, count: q(2000, 500), warmup: 100 },
    rows: [{ label: 'open + close, 100 in flight (ours: queued per address)', unit: 'conn/s', better: 'higher', pick: (r) => r.rate }],
  },
  {
    name: 'connect-par-pc',
    op: 'connection', ops: (r) => r.count,
    fn: 'connect',
    params: { parallel: 100, count: q(2000, 500), warmup: 100, parallelConnect: true },
    rows: [{ label: 'open + close, 100 in flight (ours: parallelConnect)', unit: 'conn/s', better: 'higher', pick: (r) => r.rate }],
  },
  {
    name: 'idle',
    op: 'connection opened', ops: (r) => r.count,
    fn: 'idle',
    reps: idleReps,
    params: { count: idleCount, parallel: 100, parallelConnect: true },
    rows: [
      { label: `idle: heap+external per conn (${idleCount})`, unit: 'bytes', better: 'lower', pick: (r) => r.heapExternalPerConn },
      { label: `idle: RSS per conn (${idleCount})`, unit: 'bytes', better: 'lower', pick: (r) => r.rssPerConn },
      { label: `idle: opening ${idleCount}, 100 in flight`, unit: 'conn/s', better: 'higher', pick: (r) => r.rate },
    ],
  },
  // The stream workloads: `fn` by kind of client where the WebSocket needs its own.
  {
    name: 'stream-small',
    stream: true,
    op: 'message', ops: (r) => r.count,
    fn: { stream: 'streamPipelined', socket: 'pipelined' },
    params: { text: false, size: 64, count: q(100000, 20000), warmup: 10000, timeoutMs: 60000 },
    rows: [{ label: 'pipelined 100k x 64 B binary, writable to readable', unit: 'msg/s', better: 'higher', pick: (r) => r.rate }],
  },
  {
    name: 'stream-download',
    stream: true,
    op: 'MB', ops: (r) => r.bytes / 1e6,
    fn: 'bulkDownload',
    params: { bytes: q(GiB, 128 * MiB), size: 64 * KiB, warmupBytes: 32 * MiB },
    rows: [
      { label: `download ${q('1 GiB', '128 MiB')} in 64 KiB messages`, unit: 'MB/s', better: 'higher', pick: (r) => r.rate },
      { label: 'download: peak RSS', unit: 'MB', better: 'lower', pick: (r) => r.peakRssMB },
    ],
  },
  {
    name: 'stream-download-slow',
    stream: true,
    op: 'MB', ops: (r) => r.bytes / 1e6,
    fn: 'bulkDownload',
    params: { bytes: q(GiB, 128 * MiB), size: 64 * KiB, warmupBytes: 32 * MiB, slowMs: 1, slowEvery: 256 * KiB },
    rows: [
      { label: `download ${q('1 GiB', '128 MiB')}, slow reader (1 ms per 256 KiB)`, unit: 'MB/s', better: 'higher', pick: (r) => r.rate },
      { label: 'slow reader: peak RSS', unit: 'MB', better: 'lower', pick: (r) => r.peakRssMB },
      { label: 'slow reader: RSS growth over the transfer', unit: 'MB', better: 'lower', pick: (r) => r.rssGrowthMB },
    ],
  },
  {
    name: 'stream-upload',
    stream: true,
    op: 'MB', ops: (r) => r.bytes / 1e6,
    fn: 'bulkUpload',
    params: { bytes: q(GiB, 128 * MiB), size: 64 * KiB, warmupBytes: 32 * MiB, highWater: MiB },
    rows: [
      { label: `upload ${q('1 GiB', '128 MiB')} in 64 KiB messages (await writer.write())`, unit: 'MB/s', better: 'higher', pick: (r) => r.rate },
      { label: 'upload: peak RSS', unit: 'MB', better: 'lower', pick: (r) => r.peakRssMB },
    ],
  },
  // ---- permessage-deflate, against the deflate server ----
  {
    name: 'deflate-download',
    server: 'deflate',
    op: 'MB', ops: (r) => (r.bytes * r.count) / 1e6,
    fn: 'deflateDownload',
    params: { deflate: true, size: 64 * 1024, count: q(800, 200), warmup: 100, timeoutMs: 60000 },
    rows: [{ label: 'deflate: 64 KiB JSON downloads', unit: 'MB/s of JSON', better: 'higher', pick: (r) => r.rate }],
  },
  {
    name: 'deflate-upload',
    server: 'deflate',
    op: 'MB', ops: (r) => (r.bytes * r.count) / 1e6,
    fn: 'deflateUpload',
    params: { deflate: true, size: 64 * 1024, count: q(800, 200), window: 16, warmup: 100, timeoutMs: 60000 },
    rows: [
      { label: 'deflate: 64 KiB JSON uploads', unit: 'MB/s of JSON', better: 'higher', pick: (r) => r.rate },
      { label: 'deflate: upload bytes on the wire / JSON bytes', unit: 'ratio', better: 'lower', pick: (r) => r.wireRatio },
    ],
  },
  {
    name: 'deflate-small',
    server: 'deflate',
    op: 'message', ops: (r) => r.count,
    fn: 'pipelined',
    params: { deflate: true, text: true, size: 64, count: q(100000, 20000), warmup: 10000, timeoutMs: 120000 },
    rows: [{ label: 'deflate: pipelined 100k x 64 B text', unit: 'msg/s', better: 'higher', pick: (r) => r.rate }],
  },
  {
    name: 'deflate-idle',
    server: 'deflate-light',
    op: 'connection opened', ops: (r) => r.count,
    fn: 'idle',
    reps: idleReps,
    params: { deflate: true, count: idleCount, parallel: 100, parallelConnect: true, message: JSON.stringify({ type: 'hello', user: 'someone@example.com', topics: ['news', 'sports', 'weather'] }), quietMs: deflateQuietMs },
    rows: [
      { label: `deflate, ${idleCount} conns, one message each, just after: heap+external per conn`, unit: 'bytes', better: 'lower', pick: (r) => r.justAfter.heapExternalPerConn },
      { label: `deflate, ${idleCount} conns, one message each, just after: RSS per conn`, unit: 'bytes', better: 'lower', pick: (r) => r.justAfter.rssPerConn },
      { label: `deflate, ${idleCount} conns, after ${deflateQuietMs / 1000} s quiet: heap+external per conn`, unit: 'bytes', better: 'lower', pick: (r) => r.heapExternalPerConn },
      { label: `deflate, ${idleCount} conns, after ${deflateQuietMs / 1000} s quiet: RSS per conn`, unit: 'bytes', better: 'lower', pick: (r) => r.rssPerConn },
    ],
  },
];
for (const w of workloads) if (w.params.deflate) w.params.wsThreshold = wsThreshold;
const selected = args.workloads ? String(args.workloads).split(',') : workloads.map((w) => w.name);
for (const s of selected) {
  if (!workloads.some((w) => w.name === s)) throw new Error(`unknown workload '${s}'; known: ${workloads.map((w) => w.name).join(', ')}`);
}

// ---- helpers ------------------------------------------------------------------------------

const log = (line) => process.stderr.write(`${line}\n`);

function median(values) {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function fmt(v) {
  if (!Number.isFinite(v)) return 'n/a';
  const a = Math.abs(v);
  if (a >= 100000) return `${(v / 1000).toFixed(0)}k`;
  if (a >= 10000) return `${(v / 1000).toFixed(1)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function cell(values) {
  const ok = values.filter((v) => Number.isFinite(v));
  if (ok.length === 0) return 'failed';
  const m = median(ok);
  if (ok.length === 1) return fmt(m);
  return `${fmt(m)} (${fmt(Math.min(...ok))}–${fmt(Math.max(...ok))})`;
}

function ratio(a, b) {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? (a / b).toFixed(2) : 'n/a';
}

// ---- part 1: micro ------------------------------------------------------------------------

function runMicro() {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'micro.js'), ['--reps', String(microReps), '--scale', quick ? '0.25' : '1'], {
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill(), 180000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`micro benchmark exited with ${code}`));
      resolve(JSON.parse(out));
    });
  });
}

function microTable(micro) {
  const lines = [
    `### Part 1: engine micro-benchmark (median of ${micro.reps}, interleaved; min–max in parentheses)`,
    '',
    `Parsing: unmasked server frames, pre-built, fed in ${micro.chunkSize / 1024} KiB chunks; ours = FrameParser (client role), ws = Receiver.write(). ` +
      'Framing: masked client frames, payload copied (the caller\'s bytes stay intact); ours = encodeFrame + MaskPool, ws = Sender.frame (readOnly). ' +
      'MB = 10^6 bytes of payload. Higher is better.',
    '',
    '| workload | ours MB/s | ws MB/s | ours frames/s | ws frames/s | ratio ours/ws |',
    '|---|---|---|---|---|---|',
  ];
  for (const r of micro.results) {
    const f = (s, k) => `${fmt(s[k].median)} (${fmt(s[k].min)}–${fmt(s[k].max)})`;
    lines.push(
      `| ${r.kind === 'parse' ? 'parse' : 'frame + mask'} ${r.label} frames (${r.count}/rep) | ${f(r.ours, 'mbps')} | ${f(r.ws, 'mbps')} | ${f(r.ours, 'fps')} | ${f(r.ws, 'fps')} | ${ratio(r.ours.mbps.median, r.ws.mbps.median)} |`,
    );
  }
  return lines.join('\n');
}

// ---- part 2: api --------------------------------------------------------------------------

function startServer(mode) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'echo-server.js'), [mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const pending = new Map();
    let nextId = 0;
    child.on('message', (m) => {
      if (m.type === 'ready') {
        resolve({
          child,
          mode,
          urls: m.urls,
          /** The server's CPU time (ms) and RSS, as of now. */
          sample() {
            return new Promise((res) => {
              const id = nextId++;
              pending.set(id, res);
              child.send({ type: 'cpu', id });
            });
          },
          stop() {
            return new Promise((res) => {
              child.once('exit', res);
              child.send({ type: 'exit' });
            });
          },
        });
      } else if (m.type === 'cpu') {
        const r = pending.get(m.id);
        pending.delete(m.id);
        if (r) r(m);
      }
    });
    child.once('exit', (code) => reject(new Error(`echo server exited early with ${code}`)));
  });
}

/** Runs one measurement in a fresh client process; resolves with its result or `{ error }`. */
function runClient(server, impl, workload) {
  // The stream workloads name one function for WebSocketStreams and one for our WebSocket.
  const fn = typeof workload.fn === 'string' ? workload.fn : impl.endsWith('-stream') ? workload.fn.stream : workload.fn.socket;
  // The deflate idle workload goes to ours-deflate's light server (no zlib state kept).
  const urls = workload.server === 'deflate-light' ? { ...server.urls, echo: server.urls.light } : server.urls;
  return new Promise((resolve) => {
    const execArgv = ['--expose-gc'];
    let profFile = null;
    if (cpuProf && (impl === 'ours' || impl === 'before' || impl === 'ours-stream')) {
      const dir = path.join(resultsDir, 'prof');
      fs.mkdirSync(dir, { recursive: true });
      profFile = path.join(dir, `${workload.name}-${server.mode}-${impl}-${Date.now()}.cpuprofile`);
      execArgv.push('--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${path.basename(profFile)}`);
    }
    const child = fork(path.join(__dirname, 'client.js'), [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let serverStart = null;
    let serverEnd = null;
    let result = null;
    const limitMs = 180000;
    const timer = setTimeout(() => {
      result = { error: `client timed out after ${limitMs} ms` };
      child.kill('SIGKILL');
    }, limitMs);
    child.on('message', async (m) => {
      if (m.type === 'mark') {
        const s = await server.sample();
        if (m.phase === 'start') serverStart = s;
        else serverEnd = s;
        child.send({ type: 'ack' });
      } else if (m.type === 'result') {
        result = m.error ? { error: m.error } : m.result;
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!result) result = { error: `client exited with ${code} and no result` };
      if (profFile && fs.existsSync(profFile)) result.profFile = profFile;
      if (serverStart && serverEnd && !result.error) {
        result.serverCpuMs = serverEnd.cpuMs - serverStart.cpuMs;
        result.serverRss = serverEnd.rss;
      }
      resolve(result);
    });
    child.send({ type: 'run', impl, workload: fn, urls, params: workload.params, beforeDist });
  });
}

function apiTables(api) {
  const lines = [
    `### Part 2: API benchmark (median of ${reps} runs, ${idleReps} for idle; min–max in parentheses; each run a fresh client process)`,
    '',
    `Servers, each in its own process: ${api.servers.map((s) => `**${s.mode}** = ${s.label}`).join('; ')}. ` +
      'Every workload runs against each server, servers and clients interleaved run by run; the deflate rows against the servers that negotiate it, ' +
      `ws's compressing from ${api.wsThreshold} bytes. ` +
      'Client CPU = the client process\'s CPU time over the measured section / wall time ' +
      '(100% = one core busy, so the client was CPU-bound; on a shared machine less can also mean it waited for a core); ' +
      'CPU µs per op = client CPU time / work done, which waiting does not inflate. Server CPU likewise for the server. Ratios are of medians; ' +
      'for "higher" rows a ratio above 1 means faster than ws, for "lower" rows below 1 is better.',
    '',
  ];
  // Columns: the default three, or the implementations run (with `before`, in the order given).
  const all = beforeDist === null ? ['ours', 'ws', 'undici'] : impls;
  const others = all.filter((impl) => impl !== 'ws');
  const names = all.join(' / ');
  lines.push(
    `| workload | unit | server | ${all.join(' | ')} | ${others.map((impl) => `${impl}/ws`).join(' | ')} | client CPU % (${names}) | client CPU µs per op (${names}) | server CPU % (during ${names}) |`,
    `|---|---|---|${all.map(() => '---|').join('')}${others.map(() => '---|').join('')}---|---|---|`,
  );
  for (const w of api.workloads.filter((x) => !x.stream)) {
    for (const [i, row] of w.rows.entries()) {
      // The rows of one measure against each server, next to each other.
      for (const mode of Object.keys(w.runs)) {
        const runsOf = (impl) => w.runs[mode][impl] || [];
        const ok = (impl) => runsOf(impl).filter((r) => !r.error);
        const cpu = (impl, key) => median(ok(impl).map((r) => (100 * r[key]) / r.wallMs));
        const values = {};
        for (const impl of all) values[impl] = runsOf(impl).map((r) => (r.error ? NaN : row.pick(r)));
        const show = (impl) => (impls.includes(impl) ? cell(values[impl]) : '—');
        const each = (f) => all.map((impl) => (impls.includes(impl) ? fmt(f(impl)) : '—')).join(' / ');
        const cpuCell = (key) => (i === 0 ? each((impl) => cpu(impl, key)) : '');
        const perOp = (impl) => median(ok(impl).map((r) => (1000 * r.cpuMs) / w.ops(r)));
        const perOpCell = i === 0 ? `${each(perOp)} per ${w.op}` : '';
        lines.push(
          `| ${row.label} | ${row.unit} (${row.better}) | ${mode} | ${all.map(show).join(' | ')} | ${others.map((impl) => ratio(median(values[impl]), median(values.ws || []))).join(' | ')} | ${cpuCell('cpuMs')} | ${perOpCell} | ${cpuCell('serverCpuMs')} |`,
        );
      }
    }
  }
  const errors = [];
  for (const w of api.workloads.filter((x) => !x.stream)) {
    for (const mode of Object.keys(w.runs)) {
      for (const impl of Object.keys(w.runs[mode])) {
        for (const r of w.runs[mode][impl]) if (r.error) errors.push(`- ${w.name} / ${mode} server / ${impl}: ${r.error.split('\n')[0]}`);
      }
    }
  }
  if (errors.length) lines.push('', 'Failed runs:', ...errors);
  return lines.join('\n');
}

/** The stream workloads: our WebSocketStream against undici's and against our WebSocket. */
function streamTable(api) {
  const names = { 'ours-stream': 'ours (stream)', 'undici-stream': 'undici (stream)', ours: 'ours (WebSocket)' };
  const cols = ['ours-stream', 'undici-stream', 'ours'];
  const lines = [
    `### Stream benchmark (median of ${streamReps} runs; min–max in parentheses; each run a fresh client process)`,
    '',
    'Our WebSocketStream and undici\'s, and our WebSocket for reference, against the same servers. Ratios are of medians; for ' +
      '"higher" rows above 1 means ours (stream) is faster, for "lower" rows below 1 means it uses less. CPU µs per op as above.',
    '',
    `| workload | unit | ${cols.map((c) => names[c]).join(' | ')} | stream: ours/undici | ours: stream/WebSocket | client CPU µs per op (${cols.map((c) => names[c]).join(' / ')}) |`,
    '|---|---|---|---|---|---|---|---|',
  ];
  const errors = [];
  for (const w of api.workloads.filter((x) => x.stream)) {
    // Run against one server only (ours, with its bulk server).
    const runs = w.runs[Object.keys(w.runs)[0]];
    for (const [i, row] of w.rows.entries()) {
      const values = {};
      for (const impl of cols) values[impl] = (runs[impl] || []).map((r) => (r.error ? NaN : row.pick(r)));
      const show = (impl) => (streamImpls.includes(impl) ? cell(values[impl]) : '—');
      const perOp = (impl) => median((runs[impl] || []).filter((r) => !r.error).map((r) => (1000 * r.cpuMs) / w.ops(r)));
      const perOpCell = i === 0 ? `${cols.map((impl) => (streamImpls.includes(impl) ? fmt(perOp(impl)) : '—')).join(' / ')} per ${w.op}` : '';
      const m = (impl) => median(values[impl]);
      lines.push(`| ${row.label} | ${row.unit} (${row.better}) | ${cols.map(show).join(' | ')} | ${ratio(m('ours-stream'), m('undici-stream'))} | ${ratio(m('ours-stream'), m('ours'))} | ${perOpCell} |`);
    }
    for (const impl of Object.keys(runs)) {
      for (const r of runs[impl]) if (r.error) errors.push(`- ${w.name} / ${impl}: ${r.error.split('\n')[0]}`);
    }
  }
  if (errors.length) lines.push('', 'Failed runs:', ...errors);
  return lines.join('\n');
}

const SERVER_DESCRIPTION = {
  ours: 'dist/server.js TestServer (echo, fastEcho), and for the one-way workloads a sink and source on the engine (bench/echo-server.js)',
  ws: `ws ${require('ws/package.json').version} WebSocketServer`,
  'ours-deflate': "dist/server.js TestServer with perMessageDeflate (codec 'engine'; downloads pre-compressed with context takeover, zlib level 6; idle: codec 'apart')",
  'ws-deflate': `ws ${require('ws/package.json').version} WebSocketServer with perMessageDeflate { threshold: 0 }`,
};

/** The servers a workload runs against, each in its own process. */
function serversFor(w) {
  if (w.server === 'deflate' || w.server === 'deflate-light') return deflateServerModes.map((m) => `${m}-deflate`);
  // The stream workloads need the bulk server, which runs next to every server; ours is enough.
  if (w.stream) return ['ours'];
  return serverModes;
}

async function runApi() {
  const chosen = workloads.filter((x) => selected.includes(x.name));
  const servers = new Map();
  for (const mode of new Set(chosen.flatMap(serversFor))) {
    const server = await startServer(mode);
    servers.set(mode, server);
    log(`[api] ${mode} server: ${Object.values(server.urls).join(' ')}, pid ${server.child.pid}`);
  }
  const out = {
    servers: [...servers.values()].map((s) => ({ mode: s.mode, label: SERVER_DESCRIPTION[s.mode], urls: s.urls })),
    wsThreshold,
    deflateQuietMs,
    workloads: [],
  };
  try {
    for (const w of chosen) {
      const n = w.reps || (w.stream ? streamReps : reps);
      const clients = w.stream ? streamImpls : impls;
      const modes = serversFor(w);
      const entry = { name: w.name, stream: w.stream === true, params: w.params, rows: w.rows, op: w.op, ops: w.ops, runs: {} };
      for (const mode of modes) {
        entry.runs[mode] = {};
        for (const impl of clients) entry.runs[mode][impl] = [];
      }
      let turn = 0;
      for (let rep = 0; rep < n; rep++) {
        for (const mode of modes) {
          // Rotate who goes first, so that no implementation always runs right after the same one.
          const order = clients.map((_, i) => clients[(i + turn) % clients.length]);
          turn++;
          for (const impl of order) {
            const t0 = Date.now();
            const r = await runClient(servers.get(mode), impl, w);
            entry.runs[mode][impl].push(r);
            const main = r.error ? `ERROR ${r.error.split('\n')[0]}` : `${fmt(w.rows[0].pick(r))} ${w.rows[0].unit}`;
            log(`[api] ${w.name} ${rep + 1}/${n} ${mode} server, ${impl}: ${main} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
          }
        }
      }
      out.workloads.push(entry);
    }
  } finally {
    for (const server of servers.values()) await server.stop();
  }
  return out;
}

/** Top self-time functions of our client, per workload, inside the measured section only. */
function profileSection(api) {
  const { summarize, toMarkdown } = require('./prof-top.js');
  const lines = ['### CPU profile of our client (node --cpu-prof; samples inside the measured section only)'];
  for (const w of api.workloads) {
    for (const mode of Object.keys(w.runs)) {
      for (const impl of ['ours', 'before', 'ours-stream']) {
        const run = (w.runs[mode][impl] || []).find((r) => r.profFile && r.windowUs);
        if (!run) continue;
        const s = summarize(run.profFile, { fromUs: run.windowUs[0], toUs: run.windowUs[1], top: 15 });
        lines.push('', toMarkdown(`${w.name}, ${mode} server, ${impl}: ${path.relative(process.cwd(), run.profFile)}`, s));
      }
    }
  }
  return lines.join('\n');
}

// ---- main ---------------------------------------------------------------------------------

async function main() {
  const started = Date.now();
  const header = {
    machine: `${os.cpus()[0].model}, ${os.cpus().length} cores, ${os.platform()} ${os.release()}`,
    node: process.version,
    date: new Date().toISOString(),
    command: `${process.env.npm_lifecycle_event === 'bench' ? 'npm run bench: ' : ''}node bench/run.js${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}`,
    versions: { ws: require('ws/package.json').version, undici: require('undici/package.json').version },
    fdLimit,
    loadavgAtStart: os.loadavg().map((v) => Number(v.toFixed(2))),
  };
  log(`[bench] ${header.machine}; Node ${header.node}; parts ${parts.join(',')}; reps ${reps}`);
  const output = { header };
  if (parts.includes('micro')) {
    log('[micro] running…');
    output.micro = await runMicro();
  }
  if (parts.includes('api')) output.api = await runApi();
  output.header.elapsedS = (Date.now() - started) / 1000;

  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `bench-${header.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(output, null, 1));

  const md = [
    `## Benchmark: ${header.machine}; Node ${header.node}; ws ${header.versions.ws}, undici ${header.versions.undici}; ${header.date}`,
    '',
    `Command: \`${header.command}\` (total ${output.header.elapsedS.toFixed(0)} s; load average at start ${header.loadavgAtStart.join(', ')}, at end ${os.loadavg().map((v) => v.toFixed(2)).join(', ')})`,
  ];
  if (output.micro) md.push('', microTable(output.micro));
  if (output.api && output.api.workloads.some((w) => !w.stream)) md.push('', apiTables(output.api));
  if (output.api && output.api.workloads.some((w) => w.stream)) md.push('', streamTable(output.api));
  if (output.api && cpuProf) md.push('', profileSection(output.api));
  process.stdout.write(`${md.join('\n')}\n`);
  log(`[bench] raw results: ${path.relative(process.cwd(), file)}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
