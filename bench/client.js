'use strict';
/**
 * One API-benchmark measurement in its own process: loads one WebSocket implementation, runs one
 * workload against the echo server through browser-style code, and reports the result (with its
 * own CPU time) to the parent over IPC. Every implementation goes through the same functions
 * below; only `makeSocket` differs.
 *
 * Protocol with bench/run.js: the parent sends `{ type: 'run', impl, workload, urls, params }`
 * (`urls`: the server's echo, sink and source endpoints, see bench/echo-server.js);
 * the child sends `{ type: 'mark', phase: 'start'|'end' }` around the measured section and waits
 * for `{ type: 'ack' }` (the parent reads the server's CPU meanwhile), then `{ type: 'result' }`.
 */

const { performance } = require('node:perf_hooks');
const { feed } = require('./feed.js');
const { payload: makePayload, utf8Text } = require('./payloads.js');

/**
 * Returns a constructor-like function `(url) => socket` for the named implementation.
 * `parallelConnect` applies to ours only: ws and undici never queue connections to one address.
 * With `deflate`, each offers permessage-deflate as it does by default (ours and undici always
 * do); ws then compresses messages of `wsThreshold` bytes and more (its default is 1024).
 */
function loadImplementation(impl, { parallelConnect = false, deflate = false, wsThreshold } = {}, beforeDist = null) {
  if (impl === 'ours' || impl === 'before') {
    // The main entry installs our WebSocket on globalThis; keep that reference, as a user would.
    // `before` is another build of ours (bench/run.js --before), for before/after figures.
    require(impl === 'ours' ? '../dist/index.js' : require('node:path').join(beforeDist, 'index.js'));
    const OurWebSocket = globalThis.WebSocket;
    if (parallelConnect) return (url) => new OurWebSocket(url, { parallelConnect: true });
    return (url) => new OurWebSocket(url);
  }
  if (impl === 'ws') {
    const WS = require('ws');
    // Without deflate the server declines permessage-deflate anyway; not offering it keeps the
    // handshakes alike.
    const perMessageDeflate = deflate ? (wsThreshold === undefined ? true : { threshold: wsThreshold }) : false;
    return (url) => new WS(url, { perMessageDeflate });
  }
  if (impl === 'undici') {
    const { WebSocket: UndiciWebSocket } = require('undici');
    return (url) => new UndiciWebSocket(url);
  }
  throw new Error(`unknown implementation '${impl}'; use ours, ws or undici`);
}

/** For the stream workloads: `(url) => WebSocketStream`, ours (the global) or undici's. */
function loadStreamImplementation(impl) {
  if (impl === 'ours-stream') {
    require('../dist/index.js');
    const OurWebSocketStream = globalThis.WebSocketStream;
    return (url) => new OurWebSocketStream(url);
  }
  if (impl === 'undici-stream') {
    // undici warns once that its WebSocketStream is experimental; keep stderr for real problems.
    process.removeAllListeners('warning');
    const { WebSocketStream: UndiciWebSocketStream } = require('undici');
    return (url) => new UndiciWebSocketStream(url);
  }
  return null;
}

let makeSocket;
let makeStream;

/** Opens a socket with binaryType 'arraybuffer'; rejects on error, early close or timeout. */
function open(url, timeoutMs = 30000) {
  return new Promise((resolve, reject) => {
    const ws = makeSocket(url);
    ws.binaryType = 'arraybuffer';
    const timer = setTimeout(() => reject(new Error(`open timed out after ${timeoutMs} ms`)), timeoutMs);
    ws.onopen = () => {
      clearTimeout(timer);
      ws.onerror = null;
      ws.onclose = null;
      resolve(ws);
    };
    ws.onerror = () => {
      clearTimeout(timer);
      reject(new Error('error event while opening'));
    };
    ws.onclose = (e) => {
      clearTimeout(timer);
      reject(new Error(`closed while opening (code ${e.code})`));
    };
  });
}

/** Calls close() and waits for the close event; rejects after `timeoutMs`. */
function close(ws, timeoutMs = 30000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`close timed out after ${timeoutMs} ms`)), timeoutMs);
    ws.onclose = (e) => {
      clearTimeout(timer);
      if (!e.wasClean) reject(new Error(`unclean close (code ${e.code})`));
      else resolve();
    };
    ws.onerror = null;
    ws.close();
  });
}

/**
 * Sends `count` messages, at most `window` unanswered at a time, and resolves when the last
 * echo arrives. `check(data)` validates each echo. Rejects on a bad echo, close or timeout.
 */
function exchange(ws, message, count, window, check, timeoutMs) {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let received = 0;
    const timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms with ${received}/${count} echoes`)),
      timeoutMs,
    );
    ws.onmessage = (e) => {
      if (!check(e.data)) {
        clearTimeout(timer);
        reject(new Error(`echo ${received} is wrong`));
        return;
      }
      received++;
      if (received === count) {
        clearTimeout(timer);
        resolve();
      } else if (sent < count) {
        ws.send(message);
        sent++;
      }
    };
    ws.onclose = (e) => {
      clearTimeout(timer);
      reject(new Error(`closed during the exchange (code ${e.code})`));
    };
    const first = Math.min(window, count);
    for (; sent < first; sent++) ws.send(message);
  });
}

// Measurement brackets: the parent reads the echo server's CPU time at each mark.
let pendingAck = null;
process.on('message', (m) => {
  if (m && m.type === 'ack' && pendingAck) {
    const r = pendingAck;
    pendingAck = null;
    r();
  }
});
function mark(phase) {
  return new Promise((resolve) => {
    pendingAck = resolve;
    process.send({ type: 'mark', phase });
  });
}

/** Runs `body` between marks and returns its wall time (ms) and this process's CPU time (ms). */
async function measured(body) {
  await mark('start');
  // CLOCK_MONOTONIC in µs, the clock of V8's .cpuprofile timestamps on Linux, so that a profile
  // can be cut down to the measured section.
  const us0 = Number(process.hrtime.bigint() / 1000n);
  const cpu0 = process.cpuUsage();
  const faults0 = process.resourceUsage().minorPageFault;
  const t0 = performance.now();
  const extra = await body();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const minorPageFaults = process.resourceUsage().minorPageFault - faults0;
  const us1 = Number(process.hrtime.bigint() / 1000n);
  await mark('end');
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, userMs: cpu.user / 1000, minorPageFaults, windowUs: [us0, us1], ...extra };
}



/**
 * Runs `transfer(p.warmupBytes)`, then `transfer(p.bytes)` as the measured section, sampling RSS
 * every 10 ms: MB/s, the peak RSS and its growth over the transfer.
 */
async function transferWithRss(transfer, p) {
  await transfer(p.warmupBytes);
  gc();
  const rssBefore = process.memoryUsage.rss();
  let peak = rssBefore;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
  const r = await measured(async () => {
    await transfer(p.bytes);
    return {};
  });
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  return { ...r, bytes: p.bytes, rate: p.bytes / 1e6 / (r.wallMs / 1000), peakRssMB: peak / 1e6, rssGrowthMB: (peak - rssBefore) / 1e6 };
}

/**
 * The one-way workloads' measurement: `phase(p.warmup)`, then `phase(p.count)` as the measured
 * section, then a clean close; MB/s of `size`-byte messages.
 */
async function oneWayRun(ws, phase, p, size) {
  await phase(p.warmup);
  const r = await measured(async () => {
    await phase(p.count);
    return {};
  });
  await close(ws);
  return { ...r, count: p.count, bytes: size, rate: (size * p.count) / 1e6 / (r.wallMs / 1000) };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const workloads = {
  /** One 16-byte binary message in flight; per round trip timings. */
  async latency(urls, p) {
    const url = urls.echo;
    const ws = await open(url);
    const payload = new Uint8Array(16).fill(7);
    const run = (max, capMs) =>
      new Promise((resolve, reject) => {
        const times = new Float64Array(max);
        let n = 0;
        let t0 = 0;
        const deadline = performance.now() + capMs;
        ws.onmessage = (e) => {
          const t = performance.now();
          if (e.data.byteLength !== 16) return reject(new Error('bad echo'));
          times[n++] = t - t0;
          if (n < max && t < deadline) {
            t0 = performance.now();
            ws.send(payload);
          } else {
            resolve(times.subarray(0, n));
          }
        };
        ws.onclose = () => reject(new Error('closed during the exchange'));
        t0 = performance.now();
        ws.send(payload);
      });
    await run(p.warmup, p.capMs);
    let samples;
    const r = await measured(async () => {
      samples = await run(p.count, p.capMs);
      return {};
    });
    await close(ws);
    const sorted = Float64Array.from(samples).sort();
    return {
      ...r,
      count: samples.length,
      rate: samples.length / (r.wallMs / 1000),
      p50us: percentile(sorted, 50) * 1000,
      p99us: percentile(sorted, 99) * 1000,
      p999us: percentile(sorted, 99.9) * 1000,
    };
  },

  /** `count` small messages sent in one synchronous loop, then wait for every echo. */
  async pipelined(urls, p) {
    const url = urls.echo;
    const ws = await open(url);
    const message = p.text ? 'x'.repeat(p.size) : new Uint8Array(p.size).fill(1);
    const check = p.text ? (d) => d.length === p.size : (d) => d.byteLength === p.size;
    await exchange(ws, message, p.warmup, p.warmup, check, p.timeoutMs);
    const r = await measured(async () => {
      await exchange(ws, message, p.count, p.count, check, p.timeoutMs);
      return {};
    });
    await close(ws);
    return { ...r, count: p.count, rate: p.count / (r.wallMs / 1000) };
  },

  /** Large binary or UTF-8 text messages, `window` in flight, echoed back. */
  async bulk(urls, p) {
    const url = urls.echo;
    const ws = await open(url);
    let message;
    let check;
    let bytes;
    if (p.text) {
      message = utf8Text(p.size);
      bytes = Buffer.byteLength(message);
      check = (d) => typeof d === 'string' && d.length === message.length;
    } else {
      message = new Uint8Array(p.size);
      for (let i = 0; i < message.length; i += 4096) message[i] = i >>> 12;
      bytes = p.size;
      const last = message[message.length - 1];
      check = (d) => d.byteLength === p.size && new Uint8Array(d, d.byteLength - 1)[0] === last;
    }
    await exchange(ws, message, p.warmup, Math.min(p.window, p.warmup), check, p.timeoutMs);
    const r = await measured(async () => {
      await exchange(ws, message, p.count, p.window, check, p.timeoutMs);
      return {};
    });
    await close(ws);
    // MB (10^6 bytes) sent by the client per second; the same amount came back.
    return { ...r, count: p.count, bytes, rate: (bytes * p.count) / 1e6 / (r.wallMs / 1000) };
  },

  /**
   * `count` small messages written through the writable as fast as `writer.ready` allows, and
   * their echoes read through the readable. Our WebSocket runs `pipelined` instead.
   */
  async streamPipelined(urls, p) {
    const wss = makeStream(urls.echo);
    const { readable, writable } = await wss.opened;
    const writer = writable.getWriter();
    const reader = readable.getReader();
    const message = p.text ? 'x'.repeat(p.size) : new Uint8Array(p.size).fill(1);
    const check = p.text ? (d) => d.length === p.size : (d) => d.byteLength === p.size;
    const exchange = async (count) => {
      const reading = (async () => {
        for (let i = 0; i < count; i++) {
          const { value, done } = await reader.read();
          if (done || !check(value)) throw new Error(`echo ${i} is wrong`);
        }
      })();
      for (let i = 0; i < count; i++) {
        if (writer.desiredSize <= 0) await writer.ready;
        writer.write(message).catch(() => {});
      }
      await reading;
    };
    await exchange(p.warmup);
    const r = await measured(async () => {
      await exchange(p.count);
      return {};
    });
    wss.close();
    await wss.closed;
    return { ...r, count: p.count, rate: p.count / (r.wallMs / 1000) };
  },

  /**
   * `bytes` sent by the bulk server in `size`-byte binary messages, read as they come or, with
   * `slowMs`, by a reader that waits `slowMs` after every `slowEvery` bytes. Reports MB/s and the
   * peak RSS over the transfer (sampled every 10 ms).
   */
  async bulkDownload(urls, p) {
    const bulk = (bytes) => `${urls.bulk}/download?bytes=${bytes}&size=${p.size}`;
    const transfer = async (bytes) => {
      let got = 0;
      let next = p.slowEvery;
      const slow = async () => {
        if (p.slowMs && got >= next) {
          next += p.slowEvery;
          await new Promise((resolve) => setTimeout(resolve, p.slowMs));
        }
      };
      if (makeStream) {
        const wss = makeStream(bulk(bytes));
        const { readable } = await wss.opened;
        for await (const chunk of readable) {
          got += chunk.byteLength;
          await slow();
        }
        await wss.closed;
      } else {
        // The WebSocket API cannot push back: messages wait in the application's queue.
        const ws = makeSocket(bulk(bytes));
        ws.binaryType = 'arraybuffer';
        const queue = [];
        let wake = null;
        let closed = false;
        ws.onmessage = (e) => {
          queue.push(e.data);
          if (wake) wake();
        };
        ws.onclose = () => {
          closed = true;
          if (wake) wake();
        };
        let head = 0;
        for (;;) {
          if (head < queue.length) {
            got += queue[head].byteLength;
            queue[head++] = undefined;
            await slow();
          } else if (closed) {
            break;
          } else {
            await new Promise((resolve) => (wake = resolve));
            wake = null;
          }
        }
      }
      if (got !== bytes) throw new Error(`received ${got} of ${bytes} bytes`);
    };
    return transferWithRss(transfer, p);
  },

  /**
   * `bytes` sent to the bulk server in `size`-byte binary messages: `await writer.write()` in a
   * loop for the streams; for our WebSocket, send() while bufferedAmount is under `highWater`,
   * else wait a turn of the event loop. Done when the server, which counts what it received,
   * has closed cleanly.
   */
  async bulkUpload(urls, p) {
    const chunk = new Uint8Array(p.size).fill(3);
    const transfer = async (bytes) => {
      let reason;
      if (makeStream) {
        const wss = makeStream(`${urls.bulk}/upload`);
        const { writable } = await wss.opened;
        const writer = writable.getWriter();
        for (let sent = 0; sent < bytes; sent += p.size) await writer.write(chunk);
        await writer.close();
        ({ reason } = await wss.closed);
      } else {
        const ws = makeSocket(`${urls.bulk}/upload`);
        await new Promise((resolve, reject) => {
          ws.onopen = resolve;
          ws.onerror = () => reject(new Error('error event while opening'));
        });
        const done = new Promise((resolve) => (ws.onclose = (e) => resolve(e.reason)));
        for (let sent = 0; sent < bytes; sent += p.size) {
          while (ws.bufferedAmount >= p.highWater) await new Promise((resolve) => setImmediate(resolve));
          ws.send(chunk);
        }
        ws.close();
        reason = await done;
      }
      if (reason !== String(bytes)) throw new Error(`the server received ${reason} of ${bytes} bytes`);
    };
    return transferWithRss(transfer, p);
  },

  /** Open + clean close, `parallel` at a time, `count` in all. */
  async connect(urls, p) {
    const url = urls.echo;
    const cycle = async () => {
      const ws = await open(url);
      await close(ws);
    };
    const runMany = async (count) => {
      let started = 0;
      const worker = async () => {
        while (started < count) {
          started++;
          await cycle();
        }
      };
      const workers = [];
      for (let i = 0; i < Math.min(p.parallel, count); i++) workers.push(worker());
      await Promise.all(workers);
    };
    await runMany(p.warmup);
    const r = await measured(async () => {
      await runMany(p.count);
      return {};
    });
    return { ...r, count: p.count, rate: p.count / (r.wallMs / 1000) };
  },

  /** 64 KiB compressed JSON messages from the server, asked for in one go ("go <n>"). */
  async deflateDownload(urls, p) {
    const ws = await open(`${urls.echo}download`);
    const take = (n) =>
      new Promise((resolve, reject) => {
        let got = 0;
        const timer = setTimeout(() => reject(new Error(`timed out with ${got}/${n} messages`)), p.timeoutMs);
        ws.onmessage = (e) => {
          if (typeof e.data !== 'string' || e.data.length !== p.size) {
            clearTimeout(timer);
            reject(new Error(`message ${got} is wrong`));
            return;
          }
          if (++got === n) {
            clearTimeout(timer);
            resolve();
          }
        };
        ws.onclose = () => reject(new Error('closed during the download'));
        ws.send(`go ${n}`);
      });
    await take(p.warmup);
    const r = await measured(async () => {
      await take(p.count);
      return {};
    });
    const extensions = ws.extensions;
    await close(ws);
    return { ...r, count: p.count, bytes: p.size, extensions: String(typeof extensions === 'string' ? extensions : Object.keys(extensions || {}).join(',')), rate: (p.size * p.count) / 1e6 / (r.wallMs / 1000) };
  },

  /**
   * 64 KiB JSON messages to the server, `window` unacknowledged at a time (it answers each with
   * one byte); the server's count of bytes read gives the bytes on the wire per payload byte.
   */
  async deflateUpload(urls, p) {
    const ws = await open(`${urls.echo}upload`);
    const messages = Array.from({ length: 16 }, (_, i) => feed(p.size, i + 1));
    let next = 0;
    const stats = () =>
      new Promise((resolve) => {
        ws.onmessage = (e) => resolve(JSON.parse(e.data));
        ws.send('stats');
      });
    const run = (count) =>
      new Promise((resolve, reject) => {
        let sent = 0;
        let acked = 0;
        const timer = setTimeout(() => reject(new Error(`timed out with ${acked}/${count} acks`)), p.timeoutMs);
        ws.onmessage = () => {
          if (++acked === count) {
            clearTimeout(timer);
            resolve();
          } else if (sent < count) {
            ws.send(messages[next++ & 15]);
            sent++;
          }
        };
        ws.onclose = () => reject(new Error('closed during the upload'));
        for (; sent < Math.min(p.window, count); sent++) ws.send(messages[next++ & 15]);
      });
    await run(p.warmup);
    const before = await stats();
    const r = await measured(async () => {
      await run(p.count);
      return {};
    });
    const after = await stats();
    await close(ws);
    const payload = after.payload - before.payload;
    // Bytes read by the server during the section, less the one "stats" frame (6 + 5 bytes).
    const wire = after.bytesRead - before.bytesRead - 11;
    return { ...r, count: p.count, bytes: p.size, wireRatio: wire / payload, rate: payload / 1e6 / (r.wallMs / 1000) };
  },

  /**
   * Upload only: `count` messages of `kind` and `size` to the sink, which acks every `ack`-th;
   * at most `window` messages sent and not yet acked.
   */
  async upload(urls, p) {
    const ws = await open(`${urls.sink}?ack=${p.ack}`);
    const { text, string, bytes } = makePayload(p.kind, p.size);
    // Text goes as the string (what an application holds), binary as a view of the bytes.
    const message = text ? string : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
    let acked = 0; // the sink's count so far, over both phases
    const phase = (count) =>
      new Promise((resolve, reject) => {
        const target = acked + count;
        let sent = acked;
        const timer = setTimeout(() => reject(new Error(`upload timed out after ${p.timeoutMs} ms at ${acked}/${target}`)), p.timeoutMs);
        const fill = () => {
          while (sent < target && sent - acked < p.window) {
            ws.send(message);
            sent++;
          }
        };
        ws.onmessage = (e) => {
          acked = Number(e.data);
          if (acked >= target) {
            clearTimeout(timer);
            resolve();
          } else {
            fill();
          }
        };
        ws.onclose = (e) => {
          clearTimeout(timer);
          reject(new Error(`closed during the upload (code ${e.code})`));
        };
        fill();
      });
    return oneWayRun(ws, phase, p, bytes.length);
  },

  /**
   * Download only: asks the source for `count` messages of `kind` and `size` (at most `window`
   * in the server's writes at a time) and waits for the last; each is checked by its length.
   */
  async download(urls, p) {
    const ws = await open(urls.source);
    const { text, string, bytes } = makePayload(p.kind, p.size);
    const check = text ? (d) => typeof d === 'string' && d.length === string.length : (d) => d.byteLength === bytes.length;
    const phase = (count) =>
      new Promise((resolve, reject) => {
        let received = 0;
        const timer = setTimeout(() => reject(new Error(`download timed out after ${p.timeoutMs} ms at ${received}/${count}`)), p.timeoutMs);
        ws.onmessage = (e) => {
          if (!check(e.data)) {
            clearTimeout(timer);
            reject(new Error(`message ${received} is wrong`));
          } else if (++received === count) {
            clearTimeout(timer);
            resolve();
          }
        };
        ws.onclose = (e) => {
          clearTimeout(timer);
          reject(new Error(`closed during the download (code ${e.code})`));
        };
        ws.send(JSON.stringify({ kind: p.kind, size: p.size, count, window: p.window }));
      });
    return oneWayRun(ws, phase, p, bytes.length);
  },

  /** Memory per open idle connection, after gc. */
  async idle(urls, p) {
    const url = urls.echo;
    if (typeof gc !== 'function') throw new Error('run with --expose-gc');
    const settle = async () => {
      for (let i = 0; i < 4; i++) {
        gc();
        await new Promise((r) => setImmediate(r));
      }
    };
    const memory = () => {
      const m = process.memoryUsage();
      return { rss: m.rss, heap: m.heapUsed, external: m.external };
    };
    // One connection first, so that lazily loaded code and caches are in the baseline.
    await close(await open(url));
    await settle();
    const before = memory();
    const sockets = [];
    let opened = 0;
    const r = await measured(async () => {
      const worker = async () => {
        while (sockets.length < p.count) {
          const slot = sockets.length;
          sockets.push(null);
          const ws = await open(url, 60000);
          sockets[slot] = ws;
          // One message each way, so that permessage-deflate has done its work once.
          if (p.message) await exchange(ws, p.message, 1, 1, () => true, 60000);
          opened++;
        }
      };
      const workers = [];
      for (let i = 0; i < p.parallel; i++) workers.push(worker());
      await Promise.all(workers);
      return {};
    });
    await settle();
    let after = memory();
    const perConn = (m) => ({ heapExternalPerConn: (m.heap + m.external - before.heap - before.external) / opened, rssPerConn: (m.rss - before.rss) / opened });
    const justAfter = perConn(after);
    // An idle connection is one that has been quiet a while: measured again after `quietMs`.
    if (p.quietMs) {
      await new Promise((resolve) => setTimeout(resolve, p.quietMs));
      await settle();
      after = memory();
    }
    const result = {
      ...r,
      count: opened,
      rate: opened / (r.wallMs / 1000),
      ...perConn(after),
      justAfter,
    };
    // Tear down: close all, bounded.
    await Promise.all(sockets.map((ws) => close(ws, 60000).catch(() => {})));
    return result;
  },
};

process.on('message', async (m) => {
  if (!m || m.type !== 'run') return;
  try {
    makeStream = loadStreamImplementation(m.impl);
    if (makeStream === null) makeSocket = loadImplementation(m.impl, m.params, m.beforeDist);
    const fn = workloads[m.workload];
    if (!fn) throw new Error(`unknown workload '${m.workload}'`);
    const result = await fn(m.urls, m.params);
    process.send({ type: 'result', result }, () => process.exit(0));
  } catch (err) {
    process.send({ type: 'result', error: String((err && err.stack) || err) }, () => process.exit(1));
  }
});
