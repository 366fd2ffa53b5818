/**
 * The type matrix: compiles the fixtures in __tests__/types against index.d.ts with each
 * @types/node we support, with and without lib.dom, using the installed TypeScript. A failure
 * means a consumer's `tsc` fails in that setup (TS2403 when our globals stop merging with
 * @types/node's or lib.dom's, a fixture line that no longer compiles, or an unused
 * `@ts-expect-error` when misuse stops being an error).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const fixtures = path.join(__dirname, 'types');
const tsc = require.resolve('typescript/bin/tsc');

const setups = [
  'node-18',
  'node-18-dom',
  'node-20',
  'node-20-dom',
  'node-22',
  'node-22-dom',
  'node-24',
  'node-24-dom',
  'node-26',
  'node-26-dom',
  'bundler',
  // A lib.dom that declares WebSocketStream, as a future one will: our globals must defer to it.
  'future-dom',
  // index.d.ts against the implementation in lib/, so the two cannot drift apart.
  'drift',
];

describe('index.d.ts', () => {
  test.each(setups)('compiles the fixtures with tsconfig.%s.json', (setup) => {
    const config = path.join(fixtures, `tsconfig.${setup}.json`);
    const result = spawnSync(process.execPath, [tsc, '-p', config, '--pretty', 'false'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (result.error !== undefined) throw result.error;
    // The compiler's own words are the useful part of a failure.
    expect({ status: result.status, output: `${result.stdout}${result.stderr}` }).toEqual({ status: 0, output: '' });
  }, 150_000);
});
