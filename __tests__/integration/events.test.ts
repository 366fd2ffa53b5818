/**
 * The events a WebSocket fires, their interfaces and timing (one task per message), and the
 * on* event handler attributes with HTML's semantics.
 * @see https://websockets.spec.whatwg.org/#feedback-from-the-protocol
 * @see https://html.spec.whatwg.org/multipage/webappapis.html#event-handler-attributes
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { CloseEvent, WebSocket } from '../../lib/ponyfill';
import { buildServerResponse } from '../../lib/handshake';
import { type ServerConnection, TestServer } from '../../lib/server';
import { next } from '../helpers/events';

let server: TestServer;
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) if (ws.readyState !== WebSocket.CLOSED) ws.close();
  await server.close();
});

function track(ws: WebSocket): WebSocket {
  sockets.push(ws);
  return ws;
}

/** Starts a server in `mode`, connects, and resolves once both sides are open. */
async function open(mode: 'echo' | 'script' = 'script'): Promise<{ ws: WebSocket; conn: ServerConnection }> {
  server = await TestServer.start({ mode });
  const ws = track(new WebSocket(server.url()));
  const [conn] = await Promise.all([server.nextConnection(), next(ws, 'open')]);
  return { ws, conn };
}

/** An unmasked server frame with FIN set and a payload under 126 bytes. */
function frame(opcode: number, payload: string | number[]): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);
  return Buffer.concat([Buffer.from([0x80 | opcode, bytes.length]), bytes]);
}

/** A TCP port on loopback where nothing listens. */
async function closedPort(): Promise<number> {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('event interfaces', () => {
  test('open is a plain Event that does not bubble and cannot be cancelled, fired at the WebSocket', async () => {
    server = await TestServer.start();
    const ws = track(new WebSocket(server.url()));
    const e = await next(ws, 'open');
    expect(Object.getPrototypeOf(e)).toBe(Event.prototype);
    expect([e.type, e.bubbles, e.cancelable]).toEqual(['open', false, false]);
    expect(e.target).toBe(ws);
  });

  test('message is a MessageEvent with the data, and origin the serialized origin of the URL', async () => {
    const { ws } = await open('echo');
    ws.send('hi');
    const e = await next<MessageEvent>(ws, 'message');
    expect(e).toBeInstanceOf(MessageEvent);
    expect(Object.getPrototypeOf(e)).toBe(MessageEvent.prototype);
    expect(e.data).toBe('hi');
    expect(e.origin).toBe(`ws://127.0.0.1:${server.port}`);
    expect([e.lastEventId, e.source, e.ports.length, e.bubbles, e.cancelable]).toEqual(['', null, 0, false, false]);
  });

  test('origin is that of the URL after http: became ws:, without path or query', async () => {
    server = await TestServer.start({ mode: 'echo' });
    const ws = track(new WebSocket(`http://127.0.0.1:${server.port}/path?q=1`));
    await next(ws, 'open');
    ws.send('o');
    expect((await next<MessageEvent>(ws, 'message')).origin).toBe(`ws://127.0.0.1:${server.port}`);
  });

  test('close is a CloseEvent, readyState is CLOSED while it runs, and it fires once', async () => {
    const { ws, conn } = await open();
    let count = 0;
    let state = -1;
    ws.addEventListener('close', () => {
      count++;
      state = ws.readyState;
    });
    conn.close(4000, 'x');
    const e = await next<CloseEvent>(ws, 'close');
    expect(e).toBeInstanceOf(CloseEvent);
    expect(Object.getPrototypeOf(e)).toBe(CloseEvent.prototype);
    expect([e.type, e.bubbles, e.cancelable]).toEqual(['close', false, false]);
    expect(state).toBe(WebSocket.CLOSED);
    await conn.closed;
    expect(count).toBe(1);
  });

  test('a refused connection fires a plain Event named error, then close 1006; never open', async () => {
    server = await TestServer.start();
    const ws = track(new WebSocket(`ws://127.0.0.1:${await closedPort()}/`));
    const order: string[] = [];
    let errorEvent: Event | undefined;
    let stateInError = -1;
    ws.addEventListener('open', () => order.push('open'));
    ws.addEventListener('error', (e) => {
      order.push('error');
      errorEvent = e;
      stateInError = ws.readyState;
    });
    ws.addEventListener('close', () => order.push('close'));
    const close = await next<CloseEvent>(ws, 'close');
    expect(order).toEqual(['error', 'close']);
    expect(Object.getPrototypeOf(errorEvent)).toBe(Event.prototype); // not an ErrorEvent
    expect(errorEvent).not.toHaveProperty('message');
    expect(errorEvent).not.toHaveProperty('error');
    expect(stateInError).toBe(WebSocket.CLOSED);
    expect([close.code, close.reason, close.wasClean]).toEqual([1006, '', false]);
  });

  test('a TCP drop after open without a Close frame: close 1006, not clean, and no error event', async () => {
    const { ws, conn } = await open();
    let errors = 0;
    ws.onerror = () => errors++;
    conn.destroy();
    const e = await next<CloseEvent>(ws, 'close');
    expect([e.code, e.reason, e.wasClean]).toEqual([1006, '', false]);
    expect(errors).toBe(0);
  });

  test('a TCP half-close (FIN) after open without a Close frame: the same, close 1006 and no error', async () => {
    const { ws, conn } = await open();
    let errors = 0;
    ws.addEventListener('error', () => errors++);
    conn.end();
    const e = await next<CloseEvent>(ws, 'close');
    expect([e.code, e.wasClean]).toEqual([1006, false]);
    expect(errors).toBe(0);
  });
});

describe('dispatch: one task per event', () => {
  test('several messages in one TCP write: a microtask queued by message N runs before message N+1', async () => {
    const { ws, conn } = await open();
    const log: string[] = [];
    ws.onmessage = (e: MessageEvent) => {
      log.push(`message ${e.data as string}`);
      queueMicrotask(() => log.push(`microtask ${e.data as string}`));
      void Promise.resolve().then(() => log.push(`then ${e.data as string}`));
    };
    conn.sendRaw(Buffer.concat([frame(1, 'a'), frame(1, 'b'), frame(1, 'c')]));
    while (log.length < 9) await next(ws, 'message');
    await Promise.resolve(); // the last message's microtasks
    expect(log).toEqual([
      'message a',
      'microtask a',
      'then a',
      'message b',
      'microtask b',
      'then b',
      'message c',
      'microtask c',
      'then c',
    ]);
  });

  test('binaryType is read when the task runs: a switch in the handler of message N applies to N+1', async () => {
    const { ws, conn } = await open();
    const seen: string[] = [];
    ws.onmessage = (e: MessageEvent) => {
      seen.push(e.data instanceof ArrayBuffer ? 'arraybuffer' : e.data instanceof Blob ? 'blob' : typeof e.data);
      ws.binaryType = ws.binaryType === 'blob' ? 'arraybuffer' : 'blob';
    };
    // All three frames are parsed before the first message task runs.
    conn.sendRaw(Buffer.concat([frame(2, [1]), frame(2, [2]), frame(2, [3])]));
    while (seen.length < 3) await next(ws, 'message');
    expect(seen).toEqual(['blob', 'arraybuffer', 'blob']);
  });

  test('messages already received are not dispatched once close() was called in an earlier handler', async () => {
    const { ws, conn } = await open();
    const data: string[] = [];
    ws.onmessage = (e: MessageEvent) => {
      data.push(e.data as string);
      ws.close(1000, 'enough');
    };
    conn.sendRaw(Buffer.concat([frame(1, 'first'), frame(1, 'second'), frame(1, 'third')]));
    const close = await next<CloseEvent>(ws, 'close');
    expect(data).toEqual(['first']);
    expect([close.code, close.reason, close.wasClean]).toEqual([1000, 'enough', true]);
  });

  test('a message arriving after close() was called is not dispatched', async () => {
    const { ws, conn } = await open();
    let messages = 0;
    ws.onmessage = () => messages++;
    ws.close(1000);
    conn.sendText('too late');
    expect((await conn.next('close')).code).toBe(1000);
    await next(ws, 'close');
    expect(messages).toBe(0);
  });

  test('open comes in its own task, before a message sent in the same TCP write as the 101 response', async () => {
    server = await TestServer.start({
      respond: (request) => Buffer.concat([Buffer.from(buildServerResponse(request.key), 'latin1'), frame(1, 'early')]),
    });
    const ws = track(new WebSocket(server.url()));
    const log: string[] = [];
    ws.onopen = () => {
      log.push(`open ${ws.readyState}`);
      queueMicrotask(() => log.push('microtask after open'));
      // Listeners added in the open handler still see the first message.
      ws.onmessage = (e: MessageEvent) => log.push(`message ${e.data as string}`);
    };
    await next(ws, 'message');
    expect(log).toEqual(['open 1', 'microtask after open', 'message early']);
  });

  test('a message, then the server Close frame, in one write: message while OPEN, then close', async () => {
    const { ws, conn } = await open();
    const log: string[] = [];
    ws.onmessage = (e: MessageEvent) => log.push(`message ${e.data as string} state ${ws.readyState}`);
    ws.onclose = (e: CloseEvent) => log.push(`close ${e.code}`);
    conn.sendRaw(Buffer.concat([frame(1, 'bye'), frame(8, [0x0f, 0xa0])])); // 4000
    await next(ws, 'close');
    expect(log).toEqual(['message bye state 1', 'close 4000']);
  });
});

describe('on* event handler attributes', () => {
  test('default to null, return what was set, and call the handler with this = the WebSocket', async () => {
    server = await TestServer.start({ mode: 'echo' });
    const ws = track(new WebSocket(server.url()));
    expect([ws.onopen, ws.onmessage, ws.onerror, ws.onclose]).toEqual([null, null, null, null]);
    let self: unknown;
    let arg: unknown;
    function onopen(this: WebSocket, e: Event): void {
      self = this;
      arg = e;
    }
    ws.onopen = onopen;
    expect(ws.onopen).toBe(onopen);
    const e = await next(ws, 'open');
    expect(self).toBe(ws);
    expect(arg).toBe(e);
  });

  test('replacing a handler keeps its place among addEventListener listeners; null removes it', async () => {
    const { ws, conn } = await open();
    const log: string[] = [];
    ws.onmessage = () => log.push('first handler');
    ws.addEventListener('message', () => log.push('listener'));
    ws.onmessage = () => log.push('second handler'); // takes the first handler's place
    conn.sendText('1');
    await next(ws, 'message');
    expect(log).toEqual(['second handler', 'listener']);

    log.length = 0;
    ws.onmessage = null;
    expect(ws.onmessage).toBeNull();
    conn.sendText('2');
    await next(ws, 'message');
    expect(log).toEqual(['listener']);

    log.length = 0;
    ws.onmessage = () => log.push('third handler'); // set again after null: added at the end
    conn.sendText('3');
    await next(ws, 'message');
    expect(log).toEqual(['listener', 'third handler']);
  });

  test('non-callable primitives become null; objects are kept and are not called', async () => {
    const { ws, conn } = await open();
    const setters = ws as unknown as Record<string, unknown>;
    for (const value of [5, 'alert(1)', true, Symbol('s'), 10n, undefined]) {
      setters.onmessage = () => 0;
      setters.onmessage = value;
      expect(ws.onmessage).toBeNull();
    }
    const object = { handleEvent: jest.fn() };
    setters.onmessage = object;
    expect(ws.onmessage).toBe(object);
    let listenerRan = false;
    ws.addEventListener('message', () => (listenerRan = true));
    conn.sendText('x');
    await next(ws, 'message');
    expect(listenerRan).toBe(true);
    expect(object.handleEvent).not.toHaveBeenCalled(); // an event handler is a function, not a listener object
  });

  test('a primitive set while a handler is installed removes it', async () => {
    const { ws, conn } = await open();
    const calls: string[] = [];
    ws.onmessage = () => calls.push('handler');
    (ws as unknown as { onmessage: unknown }).onmessage = 0;
    ws.addEventListener('message', () => calls.push('listener'));
    conn.sendText('x');
    await next(ws, 'message');
    expect(calls).toEqual(['listener']);
  });

  test('each attribute is tied to its own event type', async () => {
    const { ws, conn } = await open();
    const calls: string[] = [];
    ws.onopen = () => calls.push('onopen');
    ws.onerror = () => calls.push('onerror');
    ws.onmessage = () => calls.push('onmessage');
    ws.onclose = () => calls.push('onclose');
    conn.sendText('m');
    await next(ws, 'message');
    conn.close(1000);
    await next(ws, 'close');
    expect(calls).toEqual(['onmessage', 'onclose']);
  });

  test('returning false cancels a cancelable event and is harmless for a message event', async () => {
    const { ws, conn } = await open();
    ws.onopen = () => false;
    const synthetic = new Event('open', { cancelable: true });
    expect(ws.dispatchEvent(synthetic)).toBe(false);
    expect(synthetic.defaultPrevented).toBe(true);

    ws.onopen = () => true;
    const kept = new Event('open', { cancelable: true });
    expect(ws.dispatchEvent(kept)).toBe(true);
    expect(kept.defaultPrevented).toBe(false);

    let event: MessageEvent | undefined;
    ws.onmessage = (e: MessageEvent) => {
      event = e;
      return false;
    };
    conn.sendText('m');
    await next(ws, 'message');
    expect(event?.defaultPrevented).toBe(false); // message events are not cancelable
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  test('handlers and listeners on error and close both run, in registration order', async () => {
    server = await TestServer.start();
    const ws = track(new WebSocket(`ws://127.0.0.1:${await closedPort()}/`));
    const log: string[] = [];
    ws.addEventListener('error', () => log.push('error listener'));
    ws.onerror = () => log.push('onerror');
    ws.onclose = (e: CloseEvent) => log.push(`onclose ${e.code}`);
    ws.addEventListener('close', () => log.push('close listener'));
    await next(ws, 'close');
    expect(log).toEqual(['error listener', 'onerror', 'onclose 1006', 'close listener']);
  });
});
