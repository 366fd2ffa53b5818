/**
 * Decompression bombs: 1 MiB of permessage-deflate data that inflates to 1 GiB, sent as one
 * frame or as a thousand continuation frames, to a client in a child process (so that its
 * memory is its own to measure). maxPayload applies to the inflated size while inflating: the
 * client fails the connection with 1009 having held little more than the limit, and does not
 * crash or hang.
 * @see RFC 7692 §8.1 (the implementation note on memory), RFC 6455 §10.4
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { Opcode } from '../../lib/constants';
import { type ServerConnection, TestServer } from '../../lib/server';
import { within } from '../helpers/events';

const MiB = 1024 * 1024;
const root = path.resolve(__dirname, '..', '..');

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/**
 * 1 GiB of zeros as a raw DEFLATE stream without its final tail: 64 copies of 16 MiB of zeros
 * compressed once (each copy ends with a sync flush, so they follow each other as blocks of one
 * stream).
 */
function bomb(): Buffer {
  const segment = zlib.deflateRawSync(Buffer.alloc(16 * MiB), { level: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const all = Buffer.concat(new Array<Buffer>(64).fill(segment));
  return all.subarray(0, all.length - 4);
}
const payload = bomb();

interface ChildReport {
  before: number;
  maxRss: number;
  code: number;
  wasClean: boolean;
  error: boolean;
  messages: number;
}

/** Runs a client in a child Node with `maxPayload` (or the default); resolves with its report. */
function client(url: string, maxPayload: number | undefined): Promise<ChildReport> {
  const script = `
    const { WebSocket } = require(${JSON.stringify(path.join(root, 'dist', 'ponyfill.js'))});
    let before = 0;
    const ws = new WebSocket(${JSON.stringify(url)}, ${maxPayload === undefined ? '{}' : `{ maxPayload: ${maxPayload} }`});
    ws.binaryType = 'arraybuffer';
    // The baseline is taken once the connection is open, and the server sends the bomb only
    // then: start-up and the handshake are not counted.
    ws.onopen = () => {
      before = process.memoryUsage().rss;
      ws.send('ready');
    };
    let messages = 0;
    let error = false;
    ws.onmessage = () => messages++;
    ws.onerror = () => { error = true; };
    ws.onclose = (e) => {
      const maxRss = process.resourceUsage().maxRSS * 1024;
      process.stdout.write(JSON.stringify({ before, maxRss, code: e.code, wasClean: e.wasClean, error, messages }));
    };`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { timeout: 30_000 }, (error, stdout) => {
      if (error) reject(error);
      else resolve(JSON.parse(stdout) as ChildReport);
    });
  });
}

/**
 * The server's next Close frame; if none comes in time, fails with what the server saw instead
 * and how the client process ended (its report, or its exit and stderr), so that a failure on a
 * loaded machine says where it stuck.
 */
async function closeOrWhy(conn: ServerConnection, report: Promise<ChildReport>): Promise<unknown> {
  const seen: string[] = [];
  const deadline = Date.now() + 15_000;
  try {
    for (;;) {
      const event = await conn.events.next(Math.max(1, deadline - Date.now()), "the client's Close frame");
      if (event.type === 'close') return event;
      seen.push(event.type);
    }
  } catch (error) {
    const child = await report.then(
      (r) => `reported ${JSON.stringify(r)}`,
      (e: Error) => `failed: ${e.message}`,
    );
    throw new Error(`${(error as Error).message}; the server saw ${JSON.stringify(seen)}; the client process ${child}`);
  }
}

test('the bomb is what it claims: about 1 MiB that inflates to 1 GiB', async () => {
  expect(payload.length).toBeGreaterThan(0.9 * MiB);
  expect(payload.length).toBeLessThan(1.2 * MiB);
  // Counted as it streams out (never held): the stream has no final block, hence the sync flush.
  const inflater = zlib.createInflateRaw({ finishFlush: zlib.constants.Z_SYNC_FLUSH });
  let total = 0;
  inflater.on('data', (chunk: Buffer) => (total += chunk.length));
  const ended = once(inflater, 'end');
  inflater.end(Buffer.concat([payload, Buffer.from([0, 0, 0xff, 0xff])]));
  await within(ended, 30_000, 'the bomb to inflate');
  expect(total).toBe(1024 * MiB);
}, 30_000);

describe.each([
  ['in one frame', (send: (opcode: number, data: Buffer, fin: boolean, rsv1: boolean) => void) => send(Opcode.BINARY, payload, true, true)],
  [
    'in a thousand continuation frames',
    (send: (opcode: number, data: Buffer, fin: boolean, rsv1: boolean) => void) => {
      const size = Math.ceil(payload.length / 1000);
      for (let i = 0; i < 1000; i++) send(i === 0 ? Opcode.TEXT : Opcode.CONTINUATION, payload.subarray(i * size, (i + 1) * size), i === 999, i === 0);
    },
  ],
])('a 1 MiB -> 1 GiB bomb %s', (_name, sendBomb) => {
  test.each([
    ['maxPayload 16 MiB', 16 * MiB],
    ['the default maxPayload (100 MiB)', undefined],
  ])('%s: fails with 1009, holding not much more than the limit', async (_limitName, maxPayload) => {
    server = await TestServer.start({ mode: 'script', perMessageDeflate: true });
    const report = client(server.url(), maxPayload);
    const conn = await server.nextConnection(15_000);
    expect(await conn.nextText(15_000)).toBe('ready');
    sendBomb((opcode, data, fin, rsv1) => conn.sendFrame(opcode, data, { fin, rsv1 }));
    // The client failed the connection with 1009 (RFC 6455 §7.4.1: too big to process).
    expect(await closeOrWhy(conn, report)).toMatchObject({ code: 1009 });
    const result = await within(report, 30_000, 'the client process');
    expect(result).toMatchObject({ code: 1006, wasClean: false, error: true, messages: 0 });
    const limit = maxPayload ?? 100 * MiB;
    // Up to the limit in inflated bytes, plus slack for the runtime; the whole bomb would be 1 GiB.
    expect(result.maxRss - result.before).toBeLessThan(limit + 32 * MiB);
  }, 60_000);
});
