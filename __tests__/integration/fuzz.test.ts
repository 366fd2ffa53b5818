/**
 * The fuzzer's smoke run and its regression fixtures: random and mutated frame streams fed to
 * the parser in random splits must never throw, never report after the terminal event, never
 * hand out invalid text or an oversized message (scripts/fuzz.js has the rules), with and
 * without permessage-deflate.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { FrameParser } from '../../lib/parser';

const root = path.resolve(__dirname, '..', '..');
const fixtures = path.join(root, '__tests__', 'fixtures', 'fuzz');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fuzz = require(path.join(root, 'scripts', 'fuzz.js')) as {
  check(input: Buffer, random: () => number, parser: typeof FrameParser, makeDecompressor?: () => unknown): string | null;
  prng(seed: number): () => number;
  deflateCodec(): () => unknown;
};

test('a short fuzz run finds nothing', async () => {
  const report = await new Promise<{ inputs: number; failures: unknown[] }>((resolve, reject) => {
    execFile(process.execPath, [path.join(root, 'scripts', 'fuzz.js'), '--seconds', '3', '--quiet'], { cwd: root, timeout: 60_000 }, (error, stdout) => {
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(error ?? new Error(`no report: ${stdout}`));
      }
    });
  });
  expect(report.failures).toEqual([]);
  expect(report.inputs).toBeGreaterThan(1000);
}, 60_000);

test('the checker catches a parser that breaks a rule (so a clean run means something)', () => {
  // A parser that hands out a message after reporting a protocol error.
  const broken = function (this: unknown, sink: { onProtocolError(c: number, m: string): void; onMessage(t: boolean, d: Buffer): void }) {
    return { push: () => (sink.onProtocolError(1002, 'x'), sink.onMessage(false, Buffer.alloc(1))) };
  };
  expect(fuzz.check(Buffer.alloc(4), fuzz.prng(1), broken as unknown as typeof FrameParser)).toMatch(/reported after protocol error/);
});

// Hand-made hostile inputs, plus whatever a long run ever saved.
test.each(readdirSync(fixtures).filter((name) => name.endsWith('.bin')))('regression fixture %s', (name) => {
  const input = readFileSync(path.join(fixtures, name));
  // Without an extension and with permessage-deflate negotiated.
  const deflate = fuzz.deflateCodec();
  for (let seed = 1; seed <= 20; seed++) {
    expect(fuzz.check(input, fuzz.prng(seed), FrameParser)).toBeNull();
    expect(fuzz.check(input, fuzz.prng(seed), FrameParser, deflate)).toBeNull();
  }
});
