/**
 * Tests that run the built package (dist/) call `ensureBuilt()` first: `npm test` builds before
 * jest, and a direct jest run builds only when dist/ is missing or older than lib/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

/** The newest modification time among the files under `dir`. */
function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) t = Math.max(t, statSync(path.join(dir, name)).mtimeMs);
  return t;
}

/** Runs `npm run build` unless every dist entry is newer than every file in lib/. */
export function ensureBuilt(): void {
  const lib = newest(path.join(root, 'lib'));
  const entries = ['index.js', 'ponyfill.js', 'worker.js', 'browser.js'].map((name) => path.join(root, 'dist', name));
  if (entries.every((file) => existsSync(file) && statSync(file).mtimeMs >= lib)) return;
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'pipe' });
}
