/**
 * What is published: the files `npm pack` would put in the tarball, that every shipped module's
 * relative require() is shipped too, the version against CHANGELOG.md, and the published shape
 * as publint and @arethetypeswrong/cli see it (scripts/check-package.mjs).
 * @see https://docs.npmjs.com/cli/v10/configuring-npm/package-json#files
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureBuilt } from './helpers/dist';

const root = path.resolve(__dirname, '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
// The test servers in lib/ are built for the tests, the demo and the bench, not for users.
const notShipped = new Set(['server', 'fault-proxy']);

let dir: string;
let files: string[];
beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(path.join(os.tmpdir(), 'polyfill-pack-'));
  // --ignore-scripts: packing must not run `prepare` (a build) from inside a test.
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: root, encoding: 'utf8' });
  files = (JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0].files.map((file) => file.path).sort();
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('the tarball holds dist (without the test servers), the .d.ts files and the package documents; no tests, fixtures, bench or sources', () => {
  const modules = readdirSync(path.join(root, 'lib'))
    .filter((name) => name.endsWith('.ts'))
    .map((name) => name.slice(0, -3))
    .filter((name) => !notShipped.has(name));
  const expected = [
    ...modules.flatMap((name) => [`dist/${name}.js`, `dist/${name}.js.map`]),
    'index.d.ts',
    'ponyfill.d.ts',
    'worker.d.ts',
    'package.json',
    'README.md',
    'CHANGELOG.md',
    'LICENSE',
  ].sort();
  expect(files).toEqual(expected);
});

test("every relative require() in a shipped module names a shipped file, and the source maps carry their sources", () => {
  const missing: string[] = [];
  for (const file of files.filter((name) => name.endsWith('.js'))) {
    const text = readFileSync(path.join(root, file), 'utf8');
    for (const [, target] of text.matchAll(/require\("(\.[^"]+)"\)/g)) {
      const resolved = path.posix.join(path.posix.dirname(file), target.endsWith('.js') ? target : `${target}.js`);
      if (!files.includes(resolved)) missing.push(`${file} -> ${target}`);
    }
  }
  expect(missing).toEqual([]);
  // lib/ is not shipped, so a map without sourcesContent would point at nothing.
  const map = JSON.parse(readFileSync(path.join(root, 'dist', 'websocket.js.map'), 'utf8')) as { sourcesContent?: string[] };
  expect(map.sourcesContent?.[0]).toMatch(/export class WebSocket/);
});

test('the version is the newest in CHANGELOG.md', () => {
  const changelog = readFileSync(path.join(root, 'CHANGELOG.md'), 'utf8');
  expect(changelog.match(/^## (\S+)/m)?.[1]).toBe(pkg.version);
});

test('publint (strict) and @arethetypeswrong/cli find no problem in the tarball', () => {
  const tarball = path.join(dir, `polyfill-${pkg.version}.tgz`);
  const result = spawnSync(process.execPath, [path.join(root, 'scripts', 'check-package.mjs'), tarball], { encoding: 'utf8', timeout: 120_000 });
  expect({ status: result.status, problems: `${result.stdout}${result.stderr}`.split('\n').filter((line) => line !== '' && !line.startsWith('publint suggestion') && line !== 'attw: no problems found') }).toEqual({ status: 0, problems: [] });
}, 150_000);
