/**
 * Types as a consumer installs them: the packed tarball is unpacked into a pnpm-style
 * node_modules in a temp folder (the app's node_modules holds only its direct dependencies, each
 * a link into .pnpm/<name>@<version>/node_modules), and the type fixtures are compiled there with
 * the node16, nodenext and bundler resolutions. index.d.ts finds `undici-types` (which it needs
 * to restate @types/node's globals exactly) the way pnpm lets it: through pnpm's hidden hoisting
 * into .pnpm/node_modules (the default), or, with `hoist=false`, as our optional peer dependency,
 * which pnpm links next to the package when the app depends on undici-types.
 * @see https://pnpm.io/npmrc#hoist
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureBuilt } from './helpers/dist';

const root = path.resolve(__dirname, '..');
const tsc = require.resolve('typescript/bin/tsc');
const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
const fixtures = ['global.ts', 'ponyfill.ts', 'options.ts', 'stream-ponyfill.ts'];

let work: string;
let tarball: string;
beforeAll(() => {
  ensureBuilt();
  work = mkdtempSync(path.join(os.tmpdir(), 'polyfill-layout-'));
  execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: root, stdio: 'pipe' });
  tarball = path.join(work, `polyfill-${version}.tgz`);
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Links `link` to `target` by a relative path, as pnpm does, making the parent folder first. */
function link(target: string, at: string): void {
  mkdirSync(path.dirname(at), { recursive: true });
  symlinkSync(path.relative(path.dirname(at), target), at, 'dir');
}

type Layout = 'pnpm' | 'pnpm hoist=false';
interface Setup {
  layout: Layout;
  resolution: 'node16' | 'nodenext' | 'bundler';
  typesNode: 'types-node-18' | 'types-node-22' | 'types-node-24';
  dom: boolean;
}

/** Makes an app in a fresh folder with polyfill, @types/node and undici-types laid out as `layout`. */
function makeApp({ layout, resolution, typesNode, dom }: Setup): string {
  const app = mkdtempSync(path.join(work, 'app-'));
  const store = path.join(app, 'node_modules', '.pnpm');
  const ours = path.join(store, `polyfill@${version}`, 'node_modules', 'polyfill');
  mkdirSync(ours, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', ours, '--strip-components=1']);

  const typesFrom = path.join(root, 'node_modules', typesNode);
  const undiciFrom = path.dirname(require.resolve('undici-types/package.json', { paths: [typesFrom] }));
  const undiciVersion = (JSON.parse(readFileSync(path.join(undiciFrom, 'package.json'), 'utf8')) as { version: string }).version;
  const types = path.join(store, `@types+node@${typesNode}`, 'node_modules', '@types', 'node');
  const undici = path.join(store, `undici-types@${undiciVersion}`, 'node_modules', 'undici-types');
  cpSync(typesFrom, types, { recursive: true, dereference: true });
  cpSync(undiciFrom, undici, { recursive: true, dereference: true });
  // @types/node sees its own dependency next to it; the app sees only its direct dependencies.
  link(undici, path.join(store, `@types+node@${typesNode}`, 'node_modules', 'undici-types'));
  link(ours, path.join(app, 'node_modules', 'polyfill'));
  link(types, path.join(app, 'node_modules', '@types', 'node'));
  if (layout === 'pnpm') {
    // pnpm's default hoist-pattern "*": every package is visible to the others from .pnpm/node_modules.
    link(undici, path.join(store, 'node_modules', 'undici-types'));
  } else {
    // hoist=false: the app depends on undici-types, so pnpm links the optional peer beside polyfill.
    link(undici, path.join(store, `polyfill@${version}`, 'node_modules', 'undici-types'));
    link(undici, path.join(app, 'node_modules', 'undici-types'));
  }

  for (const name of fixtures) copyFileSync(path.join(__dirname, 'types', name), path.join(app, name));
  // nodenext compiles the app as ES modules (type: module); node16 as CommonJS.
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: resolution === 'nodenext' ? 'module' : 'commonjs' }));
  const compilerOptions = {
    target: 'ES2022',
    module: resolution === 'bundler' ? 'preserve' : resolution,
    moduleResolution: resolution,
    lib: dom ? ['ES2022', 'DOM', 'DOM.Iterable'] : ['ES2022'],
    types: ['node'],
    strict: true,
    noEmit: true,
    skipLibCheck: false,
  };
  writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: fixtures }));
  return app;
}

const setups: Setup[] = [];
for (const layout of ['pnpm', 'pnpm hoist=false'] as const) {
  for (const resolution of ['node16', 'nodenext', 'bundler'] as const) setups.push({ layout, resolution, typesNode: 'types-node-22', dom: false });
  setups.push({ layout, resolution: 'node16', typesNode: 'types-node-24', dom: true });
}
setups.push({ layout: 'pnpm hoist=false', resolution: 'nodenext', typesNode: 'types-node-18', dom: false });

test.each(setups)('$layout, moduleResolution $resolution, $typesNode, lib.dom $dom: the fixtures compile', (setup) => {
  const app = makeApp(setup);
  const result = spawnSync(process.execPath, [tsc, '-p', app, '--pretty', 'false'], { encoding: 'utf8', timeout: 120_000 });
  if (result.error !== undefined) throw result.error;
  expect({ status: result.status, output: `${result.stdout}${result.stderr}` }).toEqual({ status: 0, output: '' });
}, 150_000);
