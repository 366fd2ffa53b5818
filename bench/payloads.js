'use strict';
/**
 * The messages of the API benchmark, shared by the clients (bench/client.js) and the servers
 * (bench/echo-server.js), so that a download's receiver knows what the sender made.
 * - `binary`: bytes with a marker every 4 KiB.
 * - `json`: compressible JSON lines (ASCII), as logs and telemetry look.
 * - `utf8`: two-, three- and four-byte sequences mixed with ASCII.
 * Every kind is exactly `size` bytes on the wire (text: of UTF-8).
 */

const cache = new Map();

/** The UTF-8 text of `bytes` bytes (or as close below as whole characters allow). */
function utf8Text(bytes) {
  const unit = 'héllo wörld — ✓ 日本語 🎉 ';
  let s = unit.repeat(Math.ceil(bytes / Buffer.byteLength(unit)) + 1);
  while (Buffer.byteLength(s) > bytes) s = s.slice(0, -1);
  // Do not end on half of a surrogate pair.
  if (/[\uD800-\uDBFF]$/.test(s)) s = s.slice(0, -1);
  return s;
}

/** JSON lines, cut to exactly `bytes` ASCII characters. */
function jsonLines(bytes) {
  let s = '';
  for (let i = 0; s.length < bytes; i++) {
    s += `${JSON.stringify({ seq: i, user: `user-${i % 97}`, event: i % 3 ? 'click' : 'view', score: (i * 7) % 1000, tags: ['alpha', 'beta'], ok: true })}\n`;
  }
  return s.slice(0, bytes);
}

/**
 * `{ text, string?, bytes }`: the message of `kind` and `size`; `string` for text kinds, and
 * `bytes`, its bytes (what a server writes).
 */
function payload(kind, size) {
  const key = `${kind}:${size}`;
  let p = cache.get(key);
  if (p !== undefined) return p;
  if (kind === 'binary') {
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) bytes[i] = (i >>> 12) & 0xff;
    if (size > 0) bytes[size - 1] = 0x5a;
    p = { text: false, bytes };
  } else if (kind === 'json' || kind === 'utf8') {
    const string = kind === 'json' ? jsonLines(size) : utf8Text(size);
    p = { text: true, string, bytes: Buffer.from(string, 'utf8') };
  } else {
    throw new Error(`unknown payload kind '${kind}'; use binary, json or utf8`);
  }
  cache.set(key, p);
  return p;
}

module.exports = { payload, utf8Text };
