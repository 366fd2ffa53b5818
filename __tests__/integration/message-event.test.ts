/**
 * MessageEvent after `require('polyfill')` on every Node version of the matrix, each in a fresh
 * process: Node 18 and 20's own MessageEvent reports the class string 'Event' and drops bubbles,
 * cancelable and composed; the main entry closes both gaps, on the same prototype, so Node's own
 * events (MessagePort, worker parentPort) stay instances. The ponyfill entry changes nothing.
 * @see https://html.spec.whatwg.org/multipage/comms.html#the-messageevent-interface
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { TestServer } from '../../lib/server';

const root = path.resolve(__dirname, '..', '..');
const fixture = path.join(__dirname, '..', 'fixtures', 'install', 'message-event.cjs');
const distIndex = path.join(root, 'dist', 'index.js');

/** This test's Node and the bundled ones, one per major version. */
const nodes = (() => {
  const found = new Map<number, string>([[Number(process.versions.node.split('.')[0]), process.execPath]]);
  for (const major of [18, 22, 24, 26]) {
    const node = path.join(root, 'node_modules', `node-${major}`, 'bin', 'node');
    if (!found.has(major) && existsSync(node)) found.set(major, node);
  }
  return [...found].sort(([a], [b]) => a - b).map(([major, node]) => ({ major, node }));
})();

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

type Report = Record<string, unknown> & { constructed: Record<string, unknown>; shape: Record<string, unknown> };

function run(node: string, entry: string): Promise<Report> {
  return new Promise((resolve, reject) => {
    execFile(node, [fixture, entry, server.url()], { cwd: root, timeout: 15_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${node} message-event.cjs ${entry} failed: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as Report);
    });
  });
}

const interfaceObject = { type: 'function', writable: true, enumerable: false, configurable: true };
const madeByNode = (tag: string, data: string): unknown => ({ tag, instance: true, prototype: true, data });

describe.each(nodes)('on Node $major', ({ major, node }) => {
  test('with the main entry: the class string, the kept EventInit members, and the same prototype for every MessageEvent', async () => {
    const report = await run(node, 'polyfill');
    // Node 18 and 20 get a new constructor over Node's prototype; 22+ keep undici's.
    expect(report.replaced).toBe(major < 22);
    expect(report.constructed).toEqual({
      tag: '[object MessageEvent]',
      init: [true, true, true],
      members: [7, 'o', 'l', null, 0],
      defaults: [false, false, false, null, ''],
      prototypeIsShared: true,
      subclass: [true, true, 'sub', true, '[object MessageEvent]'],
      callWithoutNew: 'TypeError',
    });
    expect(report.shape).toEqual({
      name: 'MessageEvent',
      length: 1,
      inheritsEvent: true,
      prototype: { type: 'object', writable: false, enumerable: false, configurable: false },
      constructorOfPrototype: true,
      global: interfaceObject,
      toStringTag: { type: 'string', writable: false, enumerable: false, configurable: true },
      prototypeNamesUnchanged: true,
      ownNamesOfConstructor: ['length', 'name', 'prototype'],
    });
    // A page's cancelable MessageEvent at a WebSocket whose onmessage returns false is cancelled.
    expect(report.cancelled).toEqual({ returned: false, defaultPrevented: true });
    // What the WebSocket fires, and what Node makes itself, are all MessageEvents.
    expect(report.message).toEqual(madeByNode('[object MessageEvent]', 'echo'));
    expect(report.port).toEqual(madeByNode('[object MessageEvent]', 'from a port'));
    expect(report.worker).toEqual(madeByNode('[object MessageEvent]', 'to a worker'));
  });

  test('with the ponyfill entry: MessageEvent is left as this Node has it', async () => {
    const report = await run(node, 'polyfill/ponyfill');
    const native = major >= 22;
    const tag = native ? '[object MessageEvent]' : '[object Event]';
    expect(report.replaced).toBe(false);
    expect(report.tagBefore).toBe(tag);
    expect(report.constructed).toMatchObject({ tag, init: native ? [true, true, true] : [false, false, false] });
    expect(report.shape.toStringTag).toEqual(native ? { type: 'string', writable: false, enumerable: false, configurable: true } : undefined);
    expect(report.port).toEqual(madeByNode(tag, 'from a port'));
    // Node 18 and 20's own constructor drops cancelable, so the page's event cannot be cancelled.
    expect(report.cancelled).toEqual(native ? { returned: false, defaultPrevented: true } : { returned: true, defaultPrevented: false });
    expect(report.message).toMatchObject({ tag, instance: true, prototype: true, data: 'echo' });
  });
});
