/**
 * Every Node version users run: the key end-to-end scripts of the lifecycle tests, each in a
 * child process of Node 18, 20, 22, 24 and 26 (the binaries come from the `node-18`/`node-22`/
 * `node-24`/`node-26` devDependencies; 20 is the `node` on PATH), against a TestServer in this
 * process. On 22, 24 and 26, which ship undici's WebSocket as a global, ours must replace it, and
 * the types of `polyfill/worker` must compile against their @types/node.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestServer } from '../../lib/server';
import { fixture, ROOT, runToEnd, type Line } from '../fixtures/lifecycle/child';

/** The Node versions of the matrix. */
const MAJORS = [18, 20, 22, 24, 26];

/**
 * The undici major bundled by each Node version that ships its WebSocket as a global
 * (`process.versions.undici`): the native WebSocket ours replaces.
 */
const UNDICI: Record<number, number> = { 22: 6, 24: 7, 26: 8 };

/**
 * The Node binary of each major version. 18, 22, 24 and 26 come from node_modules; 20 is a `node` on
 * PATH. Every directory of PATH is searched, because npm puts node_modules/.bin first, and the
 * node-N packages each link their binary there as `node`.
 */
function nodeBinaries(): { major: number; node: string }[] {
  const onPath = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'node'));
  const fromModules = MAJORS.filter((major) => major !== 20).map((major) => path.join(ROOT, `node_modules/node-${major}/bin/node`));
  const candidates = [...fromModules, process.execPath, ...onPath];
  const byMajor = new Map<number, string>();
  for (const node of candidates) {
    if (!fs.existsSync(node)) continue;
    let version: string;
    try {
      version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
    } catch {
      continue;
    }
    const major = Number(/^v(\d+)\./.exec(version)?.[1]);
    if (!byMajor.has(major)) byMajor.set(major, node);
  }
  return MAJORS.map((major) => ({ major, node: byMajor.get(major) ?? '' }));
}

const NODES = nodeBinaries();

let server: TestServer;
beforeEach(async () => {
  server = await TestServer.start({ mode: 'echo' });
});
afterEach(() => server.close());

test('Node 18, 20, 22, 24 and 26 are all available to run the tests', () => {
  expect(NODES.filter(({ node }) => node === '').map(({ major }) => major)).toEqual([]);
});

/** The lines a worker relayed through a child's main thread, without the `event` tag. */
function relayed(lines: Line[]): unknown[] {
  return lines.filter((line) => line.event === 'worker').map(({ event: _event, ...rest }) => rest);
}

describe.each(NODES)('Node $major', ({ major, node }) => {
  test('a script opens, echoes text and a Blob, closes, and exits on its own', async () => {
    const result = await runToEnd([fixture('exit-script.js'), 'exchange', server.url()], { node });
    expect(result.code).toBe(0);
    expect(result.lines.map((line) => line.event)).toEqual(['open', 'message', 'message', 'close', 'beforeExit']);
    expect(result.lines[3]).toEqual({ event: 'close', code: 1000, reason: 'done', wasClean: true });
  });

  test(`the global WebSocket is ours${major >= 22 ? `, replacing undici ${UNDICI[major]}'s native one` : ''}, and runs our engine`, async () => {
    const result = await runToEnd([fixture('native-replaced.js'), server.url()], { node });
    expect(result.code).toBe(0);
    const { undici, ...globals } = result.lines[0];
    if (major >= 22) expect(undici).toMatch(new RegExp(`^${UNDICI[major]}\\.`));
    expect(globals).toEqual({
      event: 'globals',
      version: expect.stringMatching(new RegExp(`^v${major}\\.`)),
      // Node 22 ships WebSocket, Node 23+ CloseEvent too.
      hadNativeWebSocket: major >= 22,
      hadNativeCloseEvent: major >= 23,
      webSocketIsOurs: true,
      closeEventIsOurs: true,
      descriptor: { writable: true, enumerable: false, configurable: true },
      echo: 'which one?',
      seenByOurEngine: 1,
    });
  });

  test.each([
    ['--import', 'polyfill'],
    ['-r', 'polyfill'],
  ])('node %s %s gives workers our WebSocket', async (flag, entry) => {
    const result = await runToEnd([flag, entry, fixture('worker-parent.mjs'), server.url()], { node });
    expect(result.code).toBe(0);
    expect(result.lines[0]).toMatchObject({ event: 'main', ours: true });
    expect(relayed(result.lines)).toEqual([
      { type: 'installed', ours: true, typeofWebSocket: 'function' },
      { type: 'text', data: 'hello from an inheriting worker' },
      { type: 'close', code: 1005, wasClean: true },
    ]);
  });

  test('a browser worker script runs with polyfill/worker and ends with close()', async () => {
    const result = await runToEnd([fixture('browser-worker-parent.mjs'), server.url(), '--import'], { node });
    expect(result.code).toBe(0);
    expect(relayed(result.lines).map((message) => (message as { type: string }).type)).toEqual(['probe', 'open', 'close', 'binary', 'after-close']);
    expect(relayed(result.lines)[0]).toMatchObject({ selfIsGlobal: true, thisIsSelf: true, targetIsSelf: true, currentTargetIsSelf: true });
    expect(result.lines[result.lines.length - 1]).toEqual({ event: 'exit', code: 0 });
  });

  test('an unreferenced socket survives forced collections, and is collected once closed', async () => {
    const result = await runToEnd(['--expose-gc', fixture('gc-unreferenced.js'), '5'], { node });
    expect(result.code).toBe(0);
    expect(result.lines.find((line) => line.event === 'close')).toMatchObject({ code: 1000, wasClean: true, collectedWhileOpen: false });
    expect((result.lines.find((line) => line.event === 'close')?.received as string[]).length).toBe(5);
    expect(result.lines.find((line) => line.event === 'done')).toMatchObject({ collected: true });
  });

  test('a socket closed with data queued sends it all before the Close frame', async () => {
    const result = await runToEnd(['--expose-gc', fixture('gc-queued.js')], { node });
    expect(result.code).toBe(0);
    expect(result.lines[0]).toMatchObject({ event: 'queued', collected: false });
    const sequence = result.lines.find((line) => line.event === 'received')?.sequence as { type: string }[];
    expect(sequence.map((event) => event.type)).toEqual([...Array(10).fill('message'), 'close']);
  });
});

// The worker entry's types, as a consumer compiles them, against @types/node 22, 24 and 26 (the
// versions with a native WebSocket in their globals), with and without lib.dom. The consumer's
// node_modules is laid out as npm installs it: this package's published type files, @types/node
// of that version, and the undici-types that version depends on (preserveSymlinks keeps
// resolution inside that tree instead of this repository's own node_modules).
describe.each([22, 24, 26])('@types/node %i', (major) => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `polyfill-types-${major}-`));
    const modules = path.join(dir, 'node_modules');
    fs.mkdirSync(path.join(modules, 'polyfill'), { recursive: true });
    fs.mkdirSync(path.join(modules, '@types'));
    for (const file of ['package.json', 'index.d.ts', 'worker.d.ts']) {
      fs.symlinkSync(path.join(ROOT, file), path.join(modules, 'polyfill', file));
    }
    const typesNode = path.join(ROOT, `node_modules/types-node-${major}`);
    fs.symlinkSync(typesNode, path.join(modules, '@types/node'), 'dir');
    const nested = path.join(typesNode, 'node_modules/undici-types');
    fs.symlinkSync(fs.existsSync(nested) ? nested : path.join(ROOT, 'node_modules/undici-types'), path.join(modules, 'undici-types'), 'dir');
    fs.copyFileSync(fixture('types/worker-consumer.txt'), path.join(dir, 'worker.ts'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each([['ES2022'], ['ES2022,DOM']])('polyfill/worker types compile with lib %s', (lib) => {
    const tsc = require.resolve('typescript/bin/tsc');
    const args = [tsc, '--noEmit', '--strict', '--skipLibCheck', 'false', '--target', 'ES2022', '--lib', lib, '--preserveSymlinks'];
    args.push('--module', 'node16', '--moduleResolution', 'node16', '--types', 'node', '--pretty', 'false', 'worker.ts');
    const result = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    if (result.error !== undefined) throw result.error;
    expect({ status: result.status, output: `${result.stdout}${result.stderr}` }).toEqual({ status: 0, output: '' });
  }, 150_000);
});
