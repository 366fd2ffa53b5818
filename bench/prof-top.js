'use strict';
/**
 * Summarizes a V8 .cpuprofile: top functions by self time, and self time per script, counting
 * only samples inside [fromUs, toUs] (the measured section, in the profiler's monotonic clock)
 * when given. Used by `bench/run.js --cpu-prof`; also runs alone:
 *   node bench/prof-top.js file.cpuprofile [top]
 */

const fs = require('node:fs');
const path = require('node:path');

function where(frame) {
  if (!frame.url) return '';
  const url = frame.url.replace(/^file:\/\//, '');
  const dist = url.lastIndexOf('/dist/');
  const nm = url.lastIndexOf('/node_modules/');
  const short = dist !== -1 ? url.slice(dist + 1) : nm !== -1 ? url.slice(nm + 14) : url.startsWith('node:') ? url : path.basename(url);
  return `${short}:${frame.lineNumber + 1}`;
}

/** Returns `{ totalMs, busyMs, functions: [{ name, where, ms, pct }], scripts: [{ script, ms, pct }] }`. */
function summarize(file, { fromUs = -Infinity, toUs = Infinity, top = 15 } = {}) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    if (t < fromUs || t > toUs) continue;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) || 0) + dt);
    total += dt;
  }
  const fns = new Map();
  const scripts = new Map();
  for (const [id, us] of selfUs) {
    const f = byId.get(id).callFrame;
    const name = f.functionName || '(anonymous)';
    if (name === '(idle)') continue;
    const key = `${name}\t${where(f)}`;
    fns.set(key, (fns.get(key) || 0) + us);
    const script = f.url ? where(f).replace(/:\d+$/, '') : name.startsWith('(') ? name : '(native)';
    scripts.set(script, (scripts.get(script) || 0) + us);
  }
  // Percentages are of busy time: '(idle)' is the event loop waiting for the peer.
  const idle = [...selfUs].reduce((sum, [id, us]) => (byId.get(id).callFrame.functionName === '(idle)' ? sum + us : sum), 0);
  const busy = total - idle;
  const pct = (us) => (busy ? (100 * us) / busy : 0);
  return {
    totalMs: total / 1000,
    busyMs: busy / 1000,
    functions: [...fns]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => {
        const [name, at] = k.split('\t');
        return { name, where: at, ms: us / 1000, pct: pct(us) };
      }),
    scripts: [...scripts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([script, us]) => ({ script, ms: us / 1000, pct: pct(us) })),
  };
}

/** A markdown rendering of {@link summarize}'s result. */
function toMarkdown(title, s) {
  const lines = [
    `#### ${title}`,
    '',
    `${s.totalMs.toFixed(0)} ms sampled, ${s.busyMs.toFixed(0)} ms busy (not idle); percentages are of busy time.`,
    '',
    '| self % | self ms | function | where |',
    '|---|---|---|---|',
  ];
  for (const f of s.functions) lines.push(`| ${f.pct.toFixed(1)} | ${f.ms.toFixed(1)} | ${f.name} | ${f.where} |`);
  lines.push('', 'By script: ' + s.scripts.map((x) => `${x.script} ${x.pct.toFixed(1)}%`).join(', '));
  return lines.join('\n');
}

module.exports = { summarize, toMarkdown };

if (require.main === module) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: node bench/prof-top.js file.cpuprofile [top]');
  process.stdout.write(toMarkdown(path.basename(file), summarize(file, { top: Number(process.argv[3] || 20) })) + '\n');
}
