/**
 * Bundlers, for real: esbuild bundles __tests__/fixtures/bundle/app.mjs, which imports the
 * package by name (through "exports", from a node_modules link in a temp folder). For the browser
 * the bundle must hold nothing from Node and use the global it is given; for Node it must run our
 * client. @see https://esbuild.github.io/api/#platform (the conditions each platform sets)
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { build } from 'esbuild';
import { TestServer } from '../../lib/server';
import { ensureBuilt } from '../helpers/dist';

const root = path.resolve(__dirname, '..', '..');
const fixtures = path.join(__dirname, '..', 'fixtures', 'bundle');
let dir: string;

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(path.join(os.tmpdir(), 'polyfill-bundle-'));
  mkdirSync(path.join(dir, 'node_modules'));
  symlinkSync(root, path.join(dir, 'node_modules', 'polyfill'), 'dir');
  copyFileSync(path.join(fixtures, 'app.mjs'), path.join(dir, 'app.mjs'));
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Bundles the app for `platform`; resolves with the output's text and the files that went in. */
async function bundle(platform: 'browser' | 'node', outfile: string): Promise<{ code: string; inputs: string[] }> {
  const result = await build({
    entryPoints: [path.join(dir, 'app.mjs')],
    bundle: true,
    platform,
    format: platform === 'browser' ? 'iife' : 'cjs',
    globalName: 'app',
    target: platform === 'browser' ? 'es2020' : 'node18',
    outfile,
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs).map((input) => path.relative(root, path.resolve(input)).split(path.sep).join('/'));
  return { code: readFileSync(outfile, 'utf8'), inputs };
}

describe('esbuild --platform=browser', () => {
  test('takes the browser entry: no node: import, no net or tls, nothing from Node', async () => {
    const { code, inputs } = await bundle('browser', path.join(dir, 'app.browser.js'));
    expect(inputs.filter((input) => input.startsWith('dist/')).sort()).toEqual(['dist/browser.js', 'dist/channel-name.js']);
    expect(code).not.toMatch(/node:/);
    expect(code).not.toMatch(/\b(net|tls)\b/);
    expect(code).not.toMatch(/\brequire\(/);
  });

  test('in a browser-like realm, the app uses the WebSocket and CloseEvent it finds there; ping() says it needs Node', async () => {
    const { code } = await bundle('browser', path.join(dir, 'app.browser.js'));
    // A stand-in for a browser's WebSocket: events answer on a later microtask, as a server would.
    const made: Array<{ url: string; sent: unknown[] }> = [];
    class FakeWebSocket {
      onopen: ((event: object) => void) | null = null;
      onmessage: ((event: object) => void) | null = null;
      onclose: ((event: object) => void) | null = null;
      readonly sent: unknown[] = [];
      constructor(readonly url: string) {
        made.push(this);
        void Promise.resolve().then(() => this.onopen?.({ type: 'open' }));
      }
      send(data: unknown): void {
        this.sent.push(data);
        void Promise.resolve().then(() => this.onmessage?.({ type: 'message', data: `echo: ${String(data)}` }));
      }
      close(code: number, reason: string): void {
        void Promise.resolve().then(() => this.onclose?.({ type: 'close', code, reason, wasClean: true }));
      }
    }
    class FakeCloseEvent {}
    const context = vm.createContext({ WebSocket: FakeWebSocket, CloseEvent: FakeCloseEvent, DOMException });
    const app = vm.runInContext(`${code}\napp`, context) as {
      chat(url: string): Promise<unknown>;
      tryPing(ws: unknown): string;
      exported: Record<string, unknown>;
      sameAcrossEntries: boolean;
    };

    expect(app.exported.WebSocket).toBe(FakeWebSocket);
    expect(app.exported.CloseEvent).toBe(FakeCloseEvent);
    // The realm has no WebSocketStream: the entry exports undefined, not a class of its own.
    expect([app.exported.WebSocketStream, app.exported.WebSocketError]).toEqual([undefined, undefined]);
    expect(app.exported.ChannelName).toMatchObject({ open: 'polyfill:websocket:open' });
    expect(app.sameAcrossEntries).toBe(true);
    await expect(app.chat('wss://example.org/chat')).resolves.toEqual({ seen: ['echo: hello from a bundle'], code: 1000, reason: 'done', wasClean: true });
    expect(made.map((ws) => [ws.url, ws.sent])).toEqual([['wss://example.org/chat', ['hello from a bundle']]]);
    expect(app.tryPing(made[0])).toMatch(/^NotSupportedError: ping\(\) needs the Node\.js client/);
    // Nothing was installed in the realm.
    expect(vm.runInContext('[globalThis.WebSocket === WebSocket, typeof globalThis.WebSocketStream]', context)).toEqual([true, 'undefined']);
  });
});

describe('esbuild --platform=node', () => {
  let server: TestServer;
  beforeEach(async () => {
    server = await TestServer.start({ mode: 'echo' });
  });
  afterEach(() => server.close());

  // Node 22 has a native WebSocket: the bundle must still run ours.
  test.each([
    ['this Node', process.execPath],
    ['Node 22', path.join(root, 'node_modules', 'node-22', 'bin', 'node')],
  ])('the bundle runs on %s and talks through our client, installed as the global', async (_name, node) => {
    const outfile = path.join(dir, 'app.node.cjs');
    const { inputs } = await bundle('node', outfile);
    expect(inputs).toContain('dist/connection.js');
    expect(inputs).not.toContain('dist/browser.js');
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(node, [path.join(fixtures, 'run-node.cjs'), outfile, server.url()], { timeout: 15_000 }, (error, out, stderr) => {
        if (error) reject(new Error(`${error.message}\n${stderr}`));
        else resolve(out);
      });
    });
    expect(JSON.parse(stdout)).toEqual({
      seen: ['hello from a bundle'],
      code: 1000,
      reason: 'done',
      wasClean: true,
      published: 1,
      sameAcrossEntries: true,
      globalIsExported: true,
    });
  });
});
