/**
 * A short soak in a child process: thousands of connect/send/close cycles through the fault
 * proxy keep the contract, and memory and handles stay bounded (scripts/soak.js).
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

interface Sample {
  s: number;
  cycles: number;
  heapMB: number;
  rssMB: number;
  handles: number;
}

test('8 s of faulty cycles: no broken contract, flat heap, every handle released', async () => {
  const report = await new Promise<{ cycles: number; problems: unknown[]; samples: Sample[] }>((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', path.join(root, 'scripts', 'soak.js'), '--seconds', '8', '--every', '2', '--json'], { cwd: root, timeout: 60_000 }, (error, stdout) => {
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(error ?? new Error(`no report: ${stdout}`));
      }
    });
  });
  expect(report.problems).toEqual([]);
  expect(report.cycles).toBeGreaterThan(500);
  const samples = report.samples;
  const warm = samples[1];
  const last = samples[samples.length - 1];
  // A leak of one socket per cycle would be several MB over these cycles.
  expect(last.heapMB - warm.heapMB).toBeLessThan(4);
  expect(last.handles).toBeLessThanOrEqual(samples[0].handles);
}, 60_000);
