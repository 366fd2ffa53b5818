/**
 * Process lifetime: a script that is done with its sockets exits on its own (no process.exit,
 * nothing left holding the loop), and one that keeps a socket open stays alive, as a page does.
 * Each script runs in its own Node process; the server runs here, so the child holds no server.
 */
import * as net from 'node:net';
import { once } from 'node:events';
import { TestServer } from '../../lib/server';
import { Child, fixture, type Line } from '../fixtures/lifecycle/child';

let server: TestServer;
let child: Child | undefined;
afterEach(async () => {
  child?.kill();
  child = undefined;
  await server?.close();
});

/** The events a child printed, `beforeExit` last when the loop ran dry. */
function events(lines: Line[]): string[] {
  return lines.map((line) => line.event);
}

/** Asserts the child ended by itself: exit code 0 after `beforeExit`, which process.exit never emits. */
async function expectNaturalExit(c: Child): Promise<Line[]> {
  const exit = await c.exit();
  expect(exit).toEqual({ code: 0, signal: null });
  const last = c.seen[c.seen.length - 1];
  expect(last.event).toBe('beforeExit');
  // Nothing but stdio left when the loop ran dry: no socket, no timer.
  const resources = last.resources as string[];
  expect(resources.filter((name) => !/^(PipeWrap|TTYWrap)$/.test(name))).toEqual([]);
  return c.seen;
}

test('a script that opens, exchanges text and a Blob, and closes exits on its own', async () => {
  server = await TestServer.start({ mode: 'echo' });
  child = new Child([fixture('exit-script.js'), 'exchange', server.url()]);
  const lines = await expectNaturalExit(child);
  expect(lines.slice(0, 4)).toEqual([
    { event: 'open' },
    { event: 'message', data: 'hello' },
    { event: 'message', data: [1, 2, 3] },
    { event: 'close', code: 1000, reason: 'done', wasClean: true },
  ]);
});

test('a script whose server closes the connection exits on its own', async () => {
  server = await TestServer.start({ mode: 'script' });
  child = new Child([fixture('exit-script.js'), 'server-closes', server.url()]);
  const conn = await server.nextConnection();
  expect(await conn.nextText()).toBe('hello');
  conn.close(4000, 'server done');
  conn.end();
  const lines = await expectNaturalExit(child);
  expect(events(lines)).toEqual(['open', 'close', 'beforeExit']);
  expect(lines[1]).toMatchObject({ code: 4000, reason: 'server done', wasClean: true });
});

test('a script whose connection fails while the server is still writing exits on its own, after the server has read its Close frame (no reset)', async () => {
  server = await TestServer.start({ mode: 'script' });
  child = new Child([fixture('exit-script.js'), 'server-closes', server.url()]);
  const conn = await server.nextConnection();
  expect(await conn.nextText()).toBe('hello');
  const errors: string[] = [];
  conn.socket.on('error', (error: NodeJS.ErrnoException) => errors.push(error.code ?? error.message));
  // An unknown opcode, then 8 MiB the client will not read: were the child to exit with them
  // unread, its kernel would answer with a reset.
  conn.sendRaw(Buffer.from([0x83, 0]));
  for (let i = 0; i < 128; i++) conn.sendBinary(Buffer.alloc(64 * 1024));
  expect((await conn.next('close', 10_000)).code).toBe(1002);
  const lines = await expectNaturalExit(child);
  expect(events(lines)).toEqual(['open', 'error', 'close', 'beforeExit']);
  await conn.closed;
  expect(errors).toEqual([]);
});

test('a script whose server drops TCP without a Close frame exits on its own after close 1006', async () => {
  server = await TestServer.start({ mode: 'script' });
  child = new Child([fixture('exit-script.js'), 'server-drops', server.url()]);
  const conn = await server.nextConnection();
  await child.next('open');
  conn.destroy();
  const lines = await expectNaturalExit(child);
  expect(events(lines)).toEqual(['open', 'close', 'beforeExit']);
  expect(lines[1]).toMatchObject({ code: 1006, wasClean: false });
});

test('a script whose server never answers its Close frame exits once the close timeout ends the wait', async () => {
  // The server reads the Close frame and does nothing; the client's close timer must end it.
  server = await TestServer.start({ mode: 'script', answerClose: false });
  child = new Child([fixture('exit-script.js'), 'keep-open', server.url()], {
    env: { ...process.env, LIFECYCLE_CLOSE_TIMEOUT_MS: '200' },
  });
  const conn = await server.nextConnection();
  await child.next('open');
  conn.sendText('bye');
  expect(await conn.next('close')).toMatchObject({ code: 1000, reason: 'done' });
  const lines = await expectNaturalExit(child);
  expect(events(lines)).toEqual(['open', 'message', 'close', 'beforeExit']);
  expect(lines[2]).toMatchObject({ code: 1006, wasClean: false });
});

test('a script whose connection is refused exits on its own after error and close', async () => {
  // A port that was just free: listen, read it, close.
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  server = await TestServer.start();
  child = new Child([fixture('exit-script.js'), 'refused', `ws://127.0.0.1:${port}/`]);
  const lines = await expectNaturalExit(child);
  expect(lines.slice(0, 2)).toEqual([{ event: 'error' }, { event: 'close', code: 1006, reason: '', wasClean: false }]);
});

test('a script whose handshake is never answered exits once the handshake timeout fails it', async () => {
  server = await TestServer.start({ respond: () => null });
  child = new Child([fixture('exit-script.js'), 'no-answer', server.url()], {
    env: { ...process.env, LIFECYCLE_HANDSHAKE_TIMEOUT_MS: '200' },
  });
  const lines = await expectNaturalExit(child);
  expect(events(lines)).toEqual(['error', 'close', 'beforeExit']);
});

test('a script that calls close() while connecting exits on its own', async () => {
  server = await TestServer.start({ mode: 'echo' });
  child = new Child([fixture('exit-script.js'), 'close-while-connecting', server.url()]);
  const lines = await expectNaturalExit(child);
  expect(events(lines)).toEqual(['error', 'close', 'beforeExit']);
});

test('a script that keeps a socket open stays alive until the socket closes', async () => {
  server = await TestServer.start({ mode: 'script' });
  child = new Child([fixture('exit-script.js'), 'keep-open', server.url()]);
  const conn = await server.nextConnection();
  // The script has nothing left to run once open has fired: only the socket can hold it. Had it
  // not, `beforeExit` would come right after `open` and the child would be gone.
  await child.next('open');
  conn.sendText('still there?');
  expect((await child.next('message')).data).toBe('still there?');
  await child.next('close');
  const lines = await expectNaturalExit(child);
  expect(events(lines)).toEqual(['open', 'message', 'close', 'beforeExit']);
});
