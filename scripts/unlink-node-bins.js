// Runs from `prepare`, after every `npm install` / `npm ci`. The Node 18/22/24/26 binaries in
// devDependencies (node-18 ... node-26) are for the version matrix and are always called by path;
// but npm also links one of them as node_modules/.bin/node, which npm scripts put first on PATH,
// so `npm test` would silently run on that version. Remove that link, so scripts run on the
// machine's own node. Any node-N package counts, so a version added to the matrix needs no edit.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const link = path.join(__dirname, '..', 'node_modules', '.bin', 'node');
try {
  const target = fs.readlinkSync(link);
  if (/(^|[\\/])node-\d+[\\/]/.test(target)) fs.unlinkSync(link);
} catch (error) {
  if (error.code !== 'ENOENT' && error.code !== 'EINVAL') throw error;
}
