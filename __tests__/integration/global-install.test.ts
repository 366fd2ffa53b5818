/**
 * How users load the package: each case runs a real Node process on dist/ (by package name
 * through "exports", and by path; require, import, -r, --import), which reports the globals it
 * sees and does an echo round trip with the TestServer in this process.
 * @see https://webidl.spec.whatwg.org/#es-interfaces (interface objects on the global)
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { TestServer } from '../../lib/server';

const root = path.resolve(__dirname, '..', '..');
const fixtures = path.join(__dirname, '..', 'fixtures', 'install');
const distIndex = path.join(root, 'dist', 'index.js');
// Node 22 and later have a native WebSocket (undici 6 on 22, 7 on 24, 8 on 26): the cases where
// installing must replace one.
const nativeNodes = [22, 24, 26].map((major) => ({ major, node: path.join(root, 'node_modules', `node-${major}`, 'bin', 'node') }));

/** The property attributes WebIDL gives interface objects on the global. */
const interfaceObject = { type: 'function', writable: true, enumerable: false, configurable: true };
// Node 22 and later have a native WebSocket (and 23 a CloseEvent); Node 18 and 20 have neither.
const nativeWebSocket = Number(process.versions.node.split('.')[0]) >= 22;
/** What a fresh process of this test's Node sees before loading the package. */
const pristine = nativeWebSocket ? { typeofWebSocket: 'function', webSocket: interfaceObject } : { typeofWebSocket: 'undefined', webSocket: null };

interface Report {
  typeofWebSocket: string;
  typeofCloseEvent: string;
  webSocket: typeof interfaceObject | null;
  closeEvent: typeof interfaceObject | null;
  webSocketStream: typeof interfaceObject | null;
  webSocketError: typeof interfaceObject | null;
  ours: boolean;
  echo?: { data: string; code: number; reason: string; wasClean: boolean; closeEventName: string };
  [key: string]: unknown;
}

/** The newest modification time among the files under `dir`. */
function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) t = Math.max(t, statSync(path.join(dir, name)).mtimeMs);
  return t;
}

beforeAll(() => {
  // `npm test` builds first; a direct jest run builds only when dist/ is missing or older than lib/.
  if (!existsSync(distIndex) || statSync(distIndex).mtimeMs < newest(path.join(root, 'lib'))) {
    execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'pipe' });
  }
}, 120_000);

let server: TestServer;
beforeEach(async () => {
  server = await TestServer.start({ mode: 'echo' });
});
afterEach(() => server.close());

/** Runs `node ...args` from the package root; resolves with its JSON report once it exits by itself. */
function run(args: string[], node = process.execPath): Promise<Report> {
  return new Promise((resolve, reject) => {
    execFile(node, args, { cwd: root, timeout: 15_000 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`node ${args.join(' ')} failed: ${error.message}\n${stderr}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as Report);
      } catch {
        reject(new Error(`node ${args.join(' ')} printed no JSON report:\n${stdout}\n${stderr}`));
      }
    });
  });
}

const fixture = (name: string): string => path.join(fixtures, name);

/** What every installing case must show: our classes on globalThis, shaped as interface objects, working. */
function expectInstalled(report: Report): void {
  expect(report.ours).toBe(true);
  expect(report.webSocket).toEqual(interfaceObject);
  expect(report.closeEvent).toEqual(interfaceObject);
  // WebSocketStream and WebSocketError too, as Chromium has them (no Node version does).
  expect(report.webSocketStream).toEqual(interfaceObject);
  expect(report.webSocketError).toEqual(interfaceObject);
  expect(report.streamEcho).toEqual({ data: 'hello from a stream', closeCode: 1000, reason: 'done' });
  expect(report.echo).toEqual({ data: 'hello from a child process', code: 1000, reason: 'done', wasClean: true, closeEventName: 'CloseEvent' });
}

test('require("polyfill") installs WebSocket and CloseEvent; by name and by path it is one module, so twice is harmless', async () => {
  const report = await run([fixture('require.cjs'), server.url()]);
  expect(report.before).toEqual(pristine);
  expect(report.replacedNative).toBe(nativeWebSocket);
  expectInstalled(report);
  expect(report.sameModule).toBe(true);
  expect(report.exportsAreGlobals).toBe(true);
});

test('import "polyfill" from an ES module installs the globals and has named exports', async () => {
  const report = await run([fixture('import.mjs'), server.url()]);
  expect(report.before).toEqual(pristine);
  expectInstalled(report);
  expect(report.namedExports).toBe(true);
  expect(report.sameClasses).toBe(true);
  expect(report.exportsAreGlobals).toBe(true);
});

const esmNames = ['WebSocket', 'CloseEvent', 'ping', 'WebSocketStream', 'WebSocketError', 'ChannelName'];

test('both entries give every public name as an ES named export, and require() sees the same values', async () => {
  const report = await run([fixture('import.mjs'), server.url()]);
  const all = Object.fromEntries(esmNames.map((name) => [name, true]));
  expect(report.named).toEqual({ main: all, ponyfill: all });
  expect(report.requireIsImport).toBe(true);
});

test('static `import { WebSocket, CloseEvent, ping, WebSocketStream, WebSocketError, ChannelName } from "polyfill"` links and works', async () => {
  const report = await run([fixture('named.mjs'), server.url()]);
  expect(report.types).toEqual({ WebSocket: 'function', CloseEvent: 'function', ping: 'function', WebSocketStream: 'function', WebSocketError: 'function', ChannelName: 'object' });
  expect(report.ponyfillNames).toEqual(esmNames);
  expect(report.requireNames).toEqual(esmNames);
  expectInstalled(report);
});

test.each([
  ['-r polyfill', ['-r', 'polyfill']],
  ['-r <path of dist/index.js>', ['-r', distIndex]],
  ['--import polyfill', ['--import', 'polyfill']],
  ['--import <file URL of dist/index.js>', ['--import', pathToFileURL(distIndex).href]],
])('node %s installs the globals before the script runs; requiring the entry again changes nothing', async (_name, flags) => {
  const report = await run([...flags, fixture('preloaded.cjs'), server.url()]);
  expect(report.preloaded).toEqual({ typeofWebSocket: 'function', webSocket: interfaceObject });
  expect(report.unchangedByRequire).toBe(true);
  expectInstalled(report);
});

test('preloading with --import (ES module loader) and requiring from the script (CommonJS) keeps one class', async () => {
  const report = await run(['--import', 'polyfill', fixture('require.cjs'), server.url()]);
  expect(report.before).toEqual({ typeofWebSocket: 'function', webSocket: interfaceObject });
  expect(report.replacedNative).toBe(false); // what was there was ours already
  expectInstalled(report);
});

test('the ponyfill entry leaves globalThis alone and exports working classes', async () => {
  const report = await run([fixture('ponyfill.cjs'), server.url()]);
  expect(report.before).toMatchObject(pristine);
  expect(report.unchanged).toBe(true);
  expect(report.ours).toBe(false);
  expect([report.typeofWebSocket, report.webSocket]).toEqual([pristine.typeofWebSocket, pristine.webSocket]);
  expect(report.closeEvent).toEqual((report.before as { closeEvent: unknown }).closeEvent);
  expect([report.webSocketStream, report.webSocketError, report.streamEcho]).toEqual([null, null, undefined]);
  expect(report.sameModule).toBe(true);
  expect(report.exported).toBe(true);
  expect(report.echo).toMatchObject({ data: 'hello from a child process', code: 1000, wasClean: true });
});

describe.each(nativeNodes)('on Node $major, which has a native WebSocket', ({ node }) => {
  test('the main entry replaces the native WebSocket with ours, with the same property attributes', async () => {
    const report = await run([fixture('require.cjs'), server.url()], node);
    expect(report.before).toEqual({ typeofWebSocket: 'function', webSocket: interfaceObject });
    expect(report.replacedNative).toBe(true);
    expectInstalled(report);
  });

  test('the ponyfill entry leaves the native WebSocket in place', async () => {
    const report = await run([fixture('ponyfill.cjs'), server.url()], node);
    expect(report.unchanged).toBe(true);
    expect(report.typeofWebSocket).toBe('function');
    expect(report.ours).toBe(false);
    expect(report.echo).toMatchObject({ code: 1000, wasClean: true });
  });
});
