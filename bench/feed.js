'use strict';
/**
 * The payload of the permessage-deflate workloads: compressible JSON of exactly `size` bytes, a
 * feed of trade records whose values differ (seeded, so client and server make the same ones).
 */
function feed(size, seed) {
  let x = seed >>> 0 || 1;
  const rnd = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 4294967296;
  const symbols = ['AAPL', 'MSFT', 'GOOG', 'AMZN', 'TSLA', 'NVDA', 'META', 'NFLX'];
  let s = `{"type":"trades","seq":${seed},"items":[`;
  for (let i = 0; s.length < size; i++) {
    s += `${i ? ',' : ''}{"id":${100000 + i},"symbol":"${symbols[Math.floor(rnd() * 8)]}","price":${Math.round(rnd() * 100000) / 100},"qty":${Math.floor(rnd() * 1000)},"side":"${rnd() < 0.5 ? 'buy' : 'sell'}","ts":${1700000000000 + Math.floor(rnd() * 1e6)},"venue":"XNAS"}`;
  }
  return s.slice(0, size);
}

module.exports = { feed };
