/**
 * The test server's fastEcho path, which the benchmark measures every client against: it must
 * echo every message of a read, in order and with its opcode, answer a Ping behind the echoes
 * already queued, and answer a Close. A raw socket sends the frames, so the server alone is tested.
 * @see RFC 6455 §5.5.2, §5.6, §7.1.1
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { Opcode } from '../../lib/constants';
import { encodeCloseBody, encodeFrame, MaskPool } from '../../lib/frame';
import { buildClientRequest, generateKey, HttpHeadReader } from '../../lib/handshake';
import { FrameParser, type ParserSink } from '../../lib/parser';
import { AsyncQueue, TestServer } from '../../lib/server';
import { within } from '../helpers/events';

type Seen = { kind: 'text' | 'binary' | 'pong'; data: Buffer } | { kind: 'close'; code: number };

let server: TestServer;
afterEach(() => server.close());

/** Opens a raw client connection to a fastEcho server; returns a writer and what comes back. */
async function connect(): Promise<{ send(frames: Uint8Array[]): void; seen: AsyncQueue<Seen>; socket: net.Socket }> {
  server = await TestServer.start({ mode: 'echo', fastEcho: true });
  const socket = net.connect(server.port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(buildClientRequest({ host: `127.0.0.1:${server.port}`, resource: '/', key: generateKey(), protocols: [] }));
  const seen = new AsyncQueue<Seen>();
  const sink: ParserSink = {
    onMessage: (isText, data) => seen.push({ kind: isText ? 'text' : 'binary', data: Buffer.from(data) }),
    onPing: () => {},
    onPong: (data) => seen.push({ kind: 'pong', data: Buffer.from(data) }),
    onClose: (code) => seen.push({ kind: 'close', code }),
    // A protocol fault in the server's frames shows as a negative code, which no test expects.
    onProtocolError: (code) => seen.push({ kind: 'close', code: -code }),
  };
  const parser = new FrameParser(sink, { role: 'client' });
  const head = new HttpHeadReader();
  let opened = false;
  const open = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      if (opened) return parser.push(chunk);
      const result = head.push(chunk);
      if (result.kind !== 'head') return;
      opened = true;
      resolve();
      if (result.rest.length > 0) parser.push(result.rest);
    });
  });
  await within(open, 5000, 'the 101 response');
  return {
    send(frames) {
      socket.write(Buffer.concat(frames)); // one write: the server sees them in one read
    },
    seen,
    socket,
  };
}

function frame(opcode: Opcode, payload: Uint8Array): Buffer {
  return Buffer.concat(encodeFrame(opcode, payload, { mask: new MaskPool() }));
}

test('echoes every message of one read in order, small and large, with its opcode', async () => {
  const { send, seen, socket } = await connect();
  const large = Buffer.alloc(100_000, 7); // above the size the echo path joins into one buffer
  const sent: Seen[] = [
    { kind: 'text', data: Buffer.from('one') },
    { kind: 'binary', data: Buffer.from([1, 2, 3]) },
    { kind: 'binary', data: large },
    { kind: 'text', data: Buffer.from('grüße ✓') },
  ];
  send(sent.map((m) => frame(m.kind === 'text' ? Opcode.TEXT : Opcode.BINARY, (m as { data: Buffer }).data)));
  for (const expected of sent) expect(await seen.next(5000, 'an echo')).toEqual(expected);
  socket.destroy();
});

test('a Ping in the same read is answered after the echoes queued before it', async () => {
  const { send, seen, socket } = await connect();
  send([frame(Opcode.TEXT, Buffer.from('a')), frame(Opcode.PING, Buffer.from('p')), frame(Opcode.TEXT, Buffer.from('b'))]);
  const order: string[] = [];
  for (let i = 0; i < 3; i++) {
    const s = await seen.next(5000, 'an echo or pong');
    order.push(`${s.kind}:${'data' in s ? s.data.toString() : s.code}`);
  }
  expect(order).toEqual(['text:a', 'pong:p', 'text:b']);
  socket.destroy();
});

test('a Close is answered with the same code, and the server closes TCP', async () => {
  const { send, seen, socket } = await connect();
  send([frame(Opcode.TEXT, Buffer.from('last')), frame(Opcode.CLOSE, encodeCloseBody(4000, Buffer.from('bye')))]);
  expect(await seen.next(5000, 'the echo')).toEqual({ kind: 'text', data: Buffer.from('last') });
  expect(await seen.next(5000, 'the Close answer')).toEqual({ kind: 'close', code: 4000 });
  await within(once(socket, 'end'), 5000, 'the server closing TCP');
  socket.destroy();
});
