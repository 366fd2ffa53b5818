/**
 * WebSocket in worker_threads: installed by an import inside the worker or inherited from the
 * parent's --import / -r; events dispatched by the worker's own loop; Blob and ArrayBuffer data
 * posted back; terminate() closes the worker's sockets; and `polyfill/worker` runs a browser
 * worker script unchanged. Workers and child processes are real; the server runs here.
 */
import { once } from 'node:events';
import { MessageChannel, Worker } from 'node:worker_threads';
import { WebSocket } from '../../lib/ponyfill';
import { TestServer } from '../../lib/server';
import { Child, fixture, runToEnd, type Line } from '../fixtures/lifecycle/child';

let server: TestServer;
let worker: Worker | undefined;
let child: Child | undefined;
afterEach(async () => {
  await worker?.terminate();
  worker = undefined;
  child?.kill();
  child = undefined;
  await server.close();
});

/** Collects a worker's messages until one of type `last`, bounded; fails on a worker error. */
function messagesUntil(w: Worker, last: string, timeoutMs = 10_000): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const messages: Record<string, unknown>[] = [];
    const timer = setTimeout(() => reject(new Error(`no '${last}' from the worker within ${timeoutMs} ms; got ${JSON.stringify(messages)}`)), timeoutMs);
    w.on('message', (message: Record<string, unknown>) => {
      messages.push(message);
      if (message.type === last) {
        clearTimeout(timer);
        resolve(messages);
      }
    });
    w.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** The lines a worker relayed through a child's main thread, without the `event` tag. */
function relayed(lines: Line[]): unknown[] {
  return lines.filter((line) => line.event === 'worker').map(({ event: _event, ...rest }) => rest);
}

test("import 'polyfill' inside a worker installs WebSocket there; its events run on the worker's loop and Blob and ArrayBuffer data post back", async () => {
  server = await TestServer.start({ mode: 'echo' });
  worker = new Worker(fixture('worker-import.mjs'), { workerData: { url: server.url() } });
  const exited = once(worker, 'exit');
  const messages = await messagesUntil(worker, 'close');
  expect(messages.map((m) => m.type)).toEqual(['installed', 'open', 'text', 'blob', 'arraybuffer', 'close']);
  expect(messages[0]).toEqual({ type: 'installed', ours: true });
  expect(messages[2]).toEqual({ type: 'text', data: 'text from the worker' });
  const blob = messages[3].data as Blob;
  expect(blob).toBeInstanceOf(Blob);
  expect([...new Uint8Array(await blob.arrayBuffer())]).toEqual([1, 2, 3]);
  const buffer = messages[4].data as ArrayBuffer;
  expect(Object.prototype.toString.call(buffer)).toBe('[object ArrayBuffer]');
  expect([...new Uint8Array(buffer)]).toEqual([4, 5, 6, 7]);
  expect(messages[5]).toEqual({ type: 'close', code: 1000, reason: 'worker done', wasClean: true });
  // The worker ends by itself once its socket is closed.
  const [code] = await exited;
  expect(code).toBe(0);
});

test.each([
  ['--import', 'polyfill'],
  ['-r', 'polyfill'],
])('a process started with node %s %s has our WebSocket in every worker (workers inherit execArgv)', async (flag, entry) => {
  server = await TestServer.start({ mode: 'echo' });
  const result = await runToEnd([flag, entry, fixture('worker-parent.mjs'), server.url()]);
  expect(result.code).toBe(0);
  expect(result.lines[0]).toMatchObject({ event: 'main', ours: true, execArgv: [flag, entry] });
  expect(relayed(result.lines)).toEqual([
    { type: 'installed', ours: true, typeofWebSocket: 'function' },
    { type: 'text', data: 'hello from an inheriting worker' },
    { type: 'close', code: 1005, wasClean: true },
  ]);
  expect(result.lines[result.lines.length - 1]).toEqual({ event: 'exit', code: 0 });
});

test('worker.terminate() with open sockets closes them on the server side, and the parent keeps running', async () => {
  server = await TestServer.start({ mode: 'script' });
  const count = 3;
  worker = new Worker(fixture('worker-hold.js'), { workerData: { url: server.url(), count } });
  const allOpen = messagesUntil(worker, 'all-open');
  const connections = [];
  for (let i = 0; i < count; i++) connections.push(await server.nextConnection());
  await allOpen;
  const exitCode = await worker.terminate();
  worker = undefined;
  expect(exitCode).toBe(1);
  // Every socket's TCP connection is gone: the server saw it close (bounded wait each).
  for (const conn of connections) {
    await Promise.race([
      conn.closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('the server still holds a socket of the terminated worker')), 5000).unref()),
    ]);
  }
  expect(connections.every((conn) => conn.socket.destroyed)).toBe(true);
  // The parent goes on: its own WebSocket works.
  const ws = new WebSocket(server.url());
  await once(ws, 'open');
  const conn = await server.nextConnection();
  conn.sendText('parent alive');
  const [message] = (await once(ws, 'message')) as [MessageEvent];
  expect(message.data).toBe('parent alive');
  ws.close();
  await once(ws, 'close');
});

test.each(['--import', '--require'])(
  "a browser worker script runs unchanged with polyfill/worker preloaded (%s): self, onmessage, addEventListener, postMessage, close()",
  async (flag) => {
    server = await TestServer.start({ mode: 'echo' });
    const result = await runToEnd([fixture('browser-worker-parent.mjs'), server.url(), flag]);
    expect(result.code).toBe(0);
    expect(relayed(result.lines)).toEqual([
      {
        type: 'probe',
        selfIsGlobal: true,
        thisIsSelf: true,
        targetIsSelf: true,
        currentTargetIsSelf: true,
        isMessageEvent: true,
        hasOnmessage: true,
        webSocket: 'function',
        closeEvent: 'function',
      },
      { type: 'open', protocol: 'chat' },
      { type: 'close', code: 1000, wasClean: true, text: 'hello from a browser worker' },
      { type: 'binary', data: [9, 8, 7] },
      // Posted in the same task as close(), so it arrives; then the worker ends with code 0.
      { type: 'after-close' },
    ]);
    expect(result.lines[result.lines.length - 1]).toEqual({ event: 'exit', code: 0 });
  },
);

test('in a browser worker script, transferred ports arrive as event.ports and uncloneable data throws DataCloneError', async () => {
  server = await TestServer.start();
  worker = new Worker(fixture('browser-worker-ports.js'), { execArgv: ['--import', 'polyfill/worker'] });
  const exited = once(worker, 'exit');
  const { port1, port2 } = new MessageChannel();
  const answer = once(port1, 'message');
  const report = messagesUntil(worker, 'report');
  worker.postMessage('question', [port2]);
  expect(await report).toEqual([{ type: 'report', error: { name: 'DataCloneError', isDOMException: true }, ports: 1, isPort: true }]);
  expect(await answer).toEqual(['answer to question']);
  port1.close();
  const [code] = await exited;
  expect(code).toBe(0);
});

test('a browser worker script that never listens for messages ends on its own once its socket closes', async () => {
  server = await TestServer.start({ mode: 'echo' });
  worker = new Worker(fixture('browser-worker-oneshot.js'), {
    workerData: { url: server.url() },
    execArgv: ['--import', 'polyfill/worker'],
  });
  const exited = once(worker, 'exit');
  const messages = await messagesUntil(worker, 'close');
  expect(messages).toEqual([
    { type: 'echo', data: 'one shot' },
    { type: 'close', code: 1005 },
  ]);
  const [code] = await exited;
  expect(code).toBe(0);
});

test('polyfill/worker on the main thread installs WebSocket and defines no worker globals', async () => {
  const script = "process.stdout.write(JSON.stringify({ event: 'globals', WebSocket: typeof WebSocket, CloseEvent: typeof CloseEvent, self: typeof self, postMessage: typeof postMessage, close: typeof close }) + '\\n')";
  const result = await runToEnd(['-r', 'polyfill/worker', '-e', script]);
  expect(result.code).toBe(0);
  expect(result.lines).toEqual([
    { event: 'globals', WebSocket: 'function', CloseEvent: 'function', self: 'undefined', postMessage: 'undefined', close: 'undefined' },
  ]);
});
