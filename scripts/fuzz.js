#!/usr/bin/env node
'use strict';
// Fuzzes the receive path: random and mutated server frame streams (valid streams with bit
// flips, truncations, length-field edits and interleaved control frames), fed to FrameParser
// in random splits, for a time budget. Half the inputs are streams with permessage-deflate
// negotiated: some messages compressed (RSV1), parsed with the connection's codec. An input that throws, reports after the terminal event
// (Close or protocol error), hands out invalid text or an oversized message, or runs too long,
// is saved under __tests__/fixtures/fuzz/ as a regression fixture.
//   node scripts/fuzz.js [--seconds N] [--seed S] [--inputs N] [--quiet]
// Runs on dist/ (npm run fuzz builds it first). Exits 1 if any input failed.
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { isUtf8 } = require('node:buffer');
const zlib = require('node:zlib');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

const root = path.resolve(__dirname, '..');
const fixtures = path.join(root, '__tests__', 'fixtures', 'fuzz');
const MAX_INPUT = 1 << 20;
// Small enough that length-field edits reach it, large enough for real messages.
const MAX_MESSAGE = 64 * 1024;

// The fault proxy's seeded PRNG (mulberry32), so a seed means the same sequence in both.
const { prng } = require('../dist/fault-proxy.js');

const RANDOM_POOL = Buffer.alloc(1 << 18);
{
  const random = prng(12345);
  for (let i = 0; i < RANDOM_POOL.length; i++) RANDOM_POOL[i] = Math.floor(random() * 256);
}
// 'ab' + 'é' (2 bytes) + '€' (3 bytes) + 'c' is 8 bytes of whole characters.
const TEXT_POOL = Buffer.from('abé€c'.repeat(1 << 15), 'utf8');

/** A server frame (unmasked) with the given flags. */
function frame(opcode, payload, { fin = true, rsv = 0 } = {}) {
  const n = payload.length;
  const head = n < 126 ? Buffer.alloc(2) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  head[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  if (n < 126) head[1] = n;
  else if (n < 65536) {
    head[1] = 126;
    head.writeUInt16BE(n, 2);
  } else {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, payload]);
}

/** A valid stream: messages (some fragmented, with control frames between), maybe a Close; with `deflate`, some compressed. */
function validStream(random, deflate = false) {
  const parts = [];
  const count = 1 + Math.floor(random() * 6);
  // Slices of pools made once: fast, and still varied by offset and length.
  const bytes = (n) => {
    const at = Math.floor(random() * (RANDOM_POOL.length - n));
    return RANDOM_POOL.subarray(at, at + n);
  };
  const text = (n) => {
    // TEXT_POOL repeats one 8-byte run of whole characters: start on a run boundary.
    const at = 8 * Math.floor(random() * ((TEXT_POOL.length - n) / 8));
    return TEXT_POOL.subarray(at, at + n - (n % 8));
  };
  for (let m = 0; m < count; m++) {
    const isText = random() < 0.5;
    const size = random() < 0.95 ? Math.floor(random() * 200) : Math.floor(random() * 70000);
    let payload = isText ? text(size) : bytes(size);
    // Each compressed message a DEFLATE stream of its own (valid with context takeover too).
    const compressed = deflate && random() < 0.6;
    if (compressed) {
      const out = zlib.deflateRawSync(payload, { finishFlush: zlib.constants.Z_SYNC_FLUSH, level: Math.floor(random() * 10) });
      payload = out.subarray(0, out.length - 4);
    }
    const pieces = random() < 0.3 ? 1 + Math.floor(random() * 4) : 1;
    for (let p = 0; p < pieces; p++) {
      const from = Math.floor((payload.length * p) / pieces);
      const to = Math.floor((payload.length * (p + 1)) / pieces);
      parts.push(frame(p === 0 ? (isText ? 1 : 2) : 0, payload.subarray(from, to), { fin: p === pieces - 1, rsv: compressed && p === 0 ? 4 : 0 }));
      if (p < pieces - 1 && random() < 0.4) parts.push(frame(random() < 0.5 ? 9 : 10, bytes(Math.floor(random() * 126))));
    }
  }
  if (random() < 0.5) {
    const body = random() < 0.2 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x03, 0xe8]), text(Math.floor(random() * 40))]);
    parts.push(frame(8, body));
  }
  return Buffer.concat(parts);
}

/** One of the mutations, applied to a valid stream. */
function mutate(stream, random) {
  const s = Buffer.from(stream);
  const kind = Math.floor(random() * 6);
  if (s.length === 0) return s;
  const at = Math.floor(random() * s.length);
  switch (kind) {
    case 0: // bit flips
      for (let i = 0, n = 1 + Math.floor(random() * 8); i < n; i++) s[Math.floor(random() * s.length)] ^= 1 << Math.floor(random() * 8);
      return s;
    case 1: // truncation
      return s.subarray(0, at);
    case 2: // a length field edited: set a byte of a head to an edge value
      s[at] = [0, 125, 126, 127, 0xff, 0x7e, 0x7f][Math.floor(random() * 7)];
      return s;
    case 3: // a control frame spliced in anywhere, perhaps oversized or fragmented
      return Buffer.concat([s.subarray(0, at), frame([8, 9, 10][Math.floor(random() * 3)], Buffer.alloc(Math.floor(random() * 130)), { fin: random() < 0.8 }), s.subarray(at)]);
    case 4: // RSV bits or a reserved opcode
      s[at] = (s[at] & 0x8f) | (Math.floor(random() * 8) << 4);
      return s;
    default: // random bytes
      for (let i = at; i < Math.min(s.length, at + 16); i++) s[i] = Math.floor(random() * 256);
      return s;
  }
}

/**
 * Feeds `input` to a fresh parser in random splits; returns a failure message or null. With
 * `makeDecompressor`, the parser has permessage-deflate negotiated.
 */
function check(input, random, FrameParser, makeDecompressor) {
  let terminal = null;
  let failure = null;
  const note = (what) => {
    if (terminal !== null && failure === null) failure = `${what} reported after ${terminal}`;
  };
  const sink = {
    onMessage(isText, data) {
      note('a message');
      if (data.length > MAX_MESSAGE && failure === null) failure = `a message of ${data.length} bytes passed the ${MAX_MESSAGE}-byte limit`;
      if (isText && !isUtf8(data) && failure === null) failure = 'a text message of invalid UTF-8 was handed out';
    },
    onPing(p) {
      note('a ping');
      if (p.length > 125 && failure === null) failure = 'a ping over 125 bytes';
    },
    onPong() {
      note('a pong');
    },
    onClose(code) {
      note('a close');
      terminal ??= 'close';
      if (!(code === 1005 || (code >= 1000 && code <= 4999)) && failure === null) failure = `close code ${code} handed out`;
    },
    onProtocolError(code) {
      note('a protocol error');
      terminal ??= 'protocol error';
      if (![1002, 1007, 1009].includes(code) && failure === null) failure = `protocol error with close code ${code}`;
    },
  };
  const decompressor = makeDecompressor ? makeDecompressor() : null;
  const parser = new FrameParser(sink, { role: 'client', maxMessageSize: MAX_MESSAGE, decompressor });
  try {
    for (let at = 0; at < input.length; ) {
      const size = random() < 0.1 ? 1 + Math.floor(random() * 8) : 1 + Math.floor(random() * 4096);
      // Copies, as socket chunks are fresh buffers: the parser may keep views of them.
      parser.push(Buffer.from(input.subarray(at, at + size)));
      at += size;
    }
  } catch (error) {
    return `threw ${error && error.stack ? error.stack.split('\n').slice(0, 3).join(' | ') : error}`;
  } finally {
    if (decompressor) decompressor.close();
  }
  return failure;
}

/** permessage-deflate's codec from dist/, as a connection makes it (default parameters). */
function deflateCodec() {
  const { PerMessageDeflate } = require(path.join(root, 'dist', 'deflate.js'));
  const params = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
  return () => new PerMessageDeflate(params, { threshold: 0 });
}

if (!isMainThread) {
  // The worker: generate, mutate, check. The current input is mirrored into shared memory first,
  // so that the main thread can save it if this thread hangs.
  const { FrameParser } = require(path.join(root, 'dist', 'parser.js'));
  const { seed, deadline, maxInputs, shared } = workerData;
  const length = new Int32Array(shared, 0, 1);
  const bytes = new Uint8Array(shared, 4);
  const random = prng(seed);
  let inputs = 0;
  let volume = 0;
  let lastReport = Date.now();
  const makeDeflate = deflateCodec();
  while (Date.now() < deadline && inputs < maxInputs) {
    const deflate = random() < 0.5;
    const valid = validStream(random, deflate);
    let input = random() < 0.15 ? valid : mutate(valid, random);
    if (random() < 0.2) input = mutate(input, random);
    if (input.length > MAX_INPUT) input = input.subarray(0, MAX_INPUT);
    bytes.set(input);
    Atomics.store(length, 0, input.length);
    const started = Date.now();
    const failure = check(input, prng(seed + inputs), FrameParser, deflate ? makeDeflate : undefined);
    const took = Date.now() - started;
    inputs++;
    volume += input.length;
    if (failure !== null || took > 2000) {
      parentPort.postMessage({ type: 'failure', message: failure ?? `took ${took} ms`, input: Buffer.from(input) });
    }
    if (Date.now() - lastReport > 250) {
      parentPort.postMessage({ type: 'progress', inputs, volume });
      lastReport = Date.now();
    }
  }
  parentPort.postMessage({ type: 'done', inputs, volume });
} else if (require.main === module) {
  const args = process.argv.slice(2);
  const option = (name, fallback) => {
    const i = args.indexOf(name);
    return i === -1 ? fallback : Number(args[i + 1]);
  };
  const seconds = option('--seconds', 10);
  const seed = option('--seed', Date.now() % 0x7fffffff);
  const maxInputs = option('--inputs', Infinity);
  const quiet = args.includes('--quiet');
  const failures = [];
  const save = (message, input) => {
    fs.mkdirSync(fixtures, { recursive: true });
    const name = `parser-${createHash('sha1').update(input).digest('hex').slice(0, 12)}.bin`;
    fs.writeFileSync(path.join(fixtures, name), input);
    failures.push({ message, file: path.relative(root, path.join(fixtures, name)) });
  };
  const started = Date.now();
  const shared = new SharedArrayBuffer(4 + MAX_INPUT);
  const worker = new Worker(__filename, { workerData: { seed, deadline: started + seconds * 1000, maxInputs, shared } });
  let last = { inputs: 0, volume: 0 };
  let lastProgress = Date.now();
  const watchdog = setInterval(() => {
    if (Date.now() - lastProgress < 10_000) return;
    // No progress for 10 s: a hang. Save the input it is stuck on.
    const length = Atomics.load(new Int32Array(shared, 0, 1), 0);
    save('hung (no progress for 10 s)', Buffer.from(new Uint8Array(shared, 4, length)));
    worker.terminate();
  }, 1000);
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    clearInterval(watchdog);
    const secs = (Date.now() - started) / 1000;
    const report = {
      target: 'parser',
      seed,
      inputs: last.inputs,
      seconds: Number(secs.toFixed(1)),
      inputsPerSecond: Math.round(last.inputs / secs),
      megabytesPerSecond: Number((last.volume / 1e6 / secs).toFixed(1)),
      failures,
    };
    console.log(JSON.stringify(report, null, quiet ? 0 : 2));
    process.exitCode = failures.length === 0 ? 0 : 1;
  };
  worker.on('message', (m) => {
    lastProgress = Date.now();
    if (m.type === 'failure') save(m.message, Buffer.from(m.input));
    else last = m;
    if (m.type === 'done') finish();
  });
  worker.on('error', (error) => {
    failures.push({ message: `worker crashed: ${error.message}` });
    finish();
  });
  worker.on('exit', finish);
}

module.exports = { check, prng, deflateCodec, MAX_MESSAGE };
