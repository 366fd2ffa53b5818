/**
 * Choices the README states where the Standard, Chromium and WPT or Node's own client disagree:
 * duplicate subprotocols compared exactly, and the process-wide NODE_TLS_REJECT_UNAUTHORIZED=0
 * that every Node TLS client honours.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { WebSocket } from '../../lib/ponyfill';
import { TestServer } from '../../lib/server';
import { domExceptionName, next } from '../helpers/events';

const root = path.resolve(__dirname, '..', '..');
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

test("['echo', 'eCho'] is two protocols, as the Standard's \"occur more than once\" and Chromium have it", async () => {
  server = await TestServer.start({ selectProtocol: (offered) => offered[1] });
  const ws = new WebSocket(server.url(), ['echo', 'eCho']);
  const conn = await server.nextConnection();
  expect(conn.request.protocols).toEqual(['echo', 'eCho']);
  await next(ws, 'open');
  expect(ws.protocol).toBe('eCho');
  ws.close();
  // An exact repeat still throws.
  expect(domExceptionName(() => new WebSocket(server?.url() as string, ['echo', 'echo']))).toBe('SyntaxError');
});

describe('NODE_TLS_REJECT_UNAUTHORIZED', () => {
  const fixture = (name: string): Buffer => readFileSync(path.join(__dirname, '..', 'fixtures', 'tls', name));

  /** Connects from a child process with `env` to `url`; resolves with the event it saw first and its stderr. */
  function childConnect(url: string, env: NodeJS.ProcessEnv): Promise<{ first: string; stderr: string }> {
    const script = [
      `const { WebSocket } = require(${JSON.stringify(path.join(root, 'dist', 'ponyfill.js'))});`,
      `const ws = new WebSocket(${JSON.stringify(url)});`,
      "ws.onopen = () => { console.log('open'); process.exit(0); };",
      "ws.onerror = () => { console.log('error'); process.exit(0); };",
    ].join('\n');
    return new Promise((resolve, reject) => {
      execFile(process.execPath, ['-e', script], { env: { ...process.env, ...env }, timeout: 15_000 }, (error, stdout, stderr) =>
        error ? reject(error) : resolve({ first: stdout.trim(), stderr }),
      );
    });
  }

  test('unset, a certificate from an unknown CA fails the connection', async () => {
    server = await TestServer.start({ tls: { key: fixture('server-key.pem'), cert: fixture('server.pem') } });
    // An undefined value leaves the variable out of the child's environment.
    expect(await childConnect(server.url(), { NODE_TLS_REJECT_UNAUTHORIZED: undefined })).toMatchObject({ first: 'error' });
  });

  test("=0 turns verification off for the whole process, with Node's own warning", async () => {
    server = await TestServer.start({ tls: { key: fixture('server-key.pem'), cert: fixture('server.pem') } });
    const { first, stderr } = await childConnect(server.url(), { NODE_TLS_REJECT_UNAUTHORIZED: '0' });
    expect(first).toBe('open');
    expect(stderr).toMatch(/NODE_TLS_REJECT_UNAUTHORIZED/);
  });
});
