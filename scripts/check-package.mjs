// Checks the published shape of a packed tarball (argv[2], from `npm pack`): publint (strict:
// warnings fail too; suggestions are printed) and @arethetypeswrong/cli (every entry under the
// node10, node16 and bundler resolutions). Exits non-zero on any problem. Run by
// __tests__/package.test.ts; usable alone: `npm pack --ignore-scripts && node scripts/check-package.mjs polyfill-*.tgz`.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const tarball = process.argv[2];
if (!tarball) throw new TypeError('usage: node scripts/check-package.mjs <packed .tgz>');
let failed = false;

const bytes = readFileSync(tarball);
const { messages, pkg } = await publint({ pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) }, strict: true });
for (const message of messages) {
  console.log(`publint ${message.type}: ${formatMessage(message, pkg, { color: false })}`);
  if (message.type !== 'suggestion') failed = true;
}

// The package exports no path to its bin, so it is run through the link npm made.
const attw = fileURLToPath(new URL('../node_modules/.bin/attw', import.meta.url));
try {
  execFileSync(attw, [tarball, '--format', 'ascii', '--no-emoji'], { stdio: 'pipe', encoding: 'utf8' });
  console.log('attw: no problems found');
} catch (error) {
  console.log(`attw:\n${error.stdout}${error.stderr}`);
  failed = true;
}
process.exitCode = failed ? 1 : 0;
