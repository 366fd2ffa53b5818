#!/usr/bin/env node
'use strict';
// Runs the whole jest suite once under each other Node version users run: 18, 22, 24 and 26 from
// the node-18/node-22/node-24/node-26 devDependencies (`npm test` covers the machine's Node 20;
// pass --with-20 to run it here too). One version after another: jest already keeps a worker
// busy, and the machine may have two cores only. Jest's workers inherit the binary that runs
// jest, so every test file runs on that version. Left out: node-versions.test.ts, which spawns
// all five versions itself whichever Node runs it, and the files that test what tsc and npm see
// (types.test.ts, types-layout.test.ts, package.test.ts), which the runtime does not change and
// `npm test` runs once. Extra arguments go to jest.
//   node scripts/test-node-versions.js [jest args...]
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const with20 = process.argv.includes('--with-20');
/** The versions that come from node_modules' node-N devDependencies. */
const fromModules = [18, 22, 24, 26];
const majors = with20 ? [18, 20, 22, 24, 26] : fromModules;
const jestArgs = process.argv.slice(2).filter((arg) => arg !== '--with-20');

/** The first binary of each major among node_modules' node-N packages and every `node` on PATH. */
function findNodes() {
  // Every PATH entry: npm puts node_modules/.bin first, where the node-N packages link their
  // binaries as `node`, so the first `node` on PATH may be any of them.
  const onPath = (process.env.PATH || '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'node'));
  const candidates = fromModules.map((major) => path.join(root, `node_modules/node-${major}/bin/node`)).concat(process.execPath, onPath);
  const found = new Map();
  for (const node of candidates) {
    if (!fs.existsSync(node)) continue;
    try {
      const major = Number(/^v(\d+)\./.exec(execFileSync(node, ['--version'], { encoding: 'utf8' }))[1]);
      if (!found.has(major)) found.set(major, node);
    } catch {
      // Not runnable here (another platform's binary): skipped, and reported below as missing.
    }
  }
  return found;
}

const IGNORED = 'node-versions|types\\.test|types-layout|package\\.test';
const nodes = findNodes();
const jest = path.join(root, 'node_modules/jest/bin/jest.js');
const results = [];
for (const major of majors) {
  const node = nodes.get(major);
  if (node === undefined) {
    results.push({ major, status: 'missing' });
    continue;
  }
  console.log(`\n=== Node ${major} (${path.relative(root, node) || node}) ===`);
  const started = Date.now();
  const run = spawnSync(node, [jest, ...jestArgs, '--testPathIgnorePatterns', IGNORED], { cwd: root, stdio: 'inherit' });
  results.push({ major, status: run.status === 0 ? 'passed' : `failed (${run.status ?? run.signal})`, seconds: Math.round((Date.now() - started) / 1000) });
}
console.log('\nNode versions:');
for (const { major, status, seconds } of results) console.log(`  Node ${major}: ${status}${seconds === undefined ? '' : ` in ${seconds} s`}`);
process.exitCode = results.every((result) => result.status === 'passed') ? 0 : 1;
