/**
 * Every listener of every event a WebSocket fires (open, message, error, close) sees the event
 * being dispatched at the WebSocket, and a listener list changed during a dispatch is treated as
 * DOM's "inner invoke" treats it, on every Node version. Node's own EventTarget gets both wrong
 * from the second listener on; the fix changes no WebIDL-visible shape.
 * @see https://dom.spec.whatwg.org/#concept-event-dispatch
 * @see https://dom.spec.whatwg.org/#concept-event-listener-inner-invoke
 */
import { CloseEvent, WebSocket } from '../../lib/ponyfill';
import { type ServerConnection, TestServer } from '../../lib/server';
import { next, within } from '../helpers/events';

let server: TestServer;
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) if (ws.readyState !== WebSocket.CLOSED) ws.close();
  await server.close();
});

/** Connects to a scripted server; `attach` runs before any event can fire. */
async function connect(attach: (ws: WebSocket) => void = () => {}): Promise<{ ws: WebSocket; conn: ServerConnection }> {
  server = await TestServer.start({ mode: 'script' });
  const ws = new WebSocket(server.url());
  sockets.push(ws);
  attach(ws);
  const [conn] = await Promise.all([server.nextConnection(), next(ws, 'open')]);
  return { ws, conn };
}

/** What one listener saw of the event it was called with. */
interface Seen {
  currentTarget: boolean;
  eventPhase: number;
  target: boolean;
  self: boolean;
}

const AT_TARGET: Seen = { currentTarget: true, eventPhase: 2, target: true, self: true }; // Event.AT_TARGET

/**
 * Adds three listeners for `type` to `ws`: a function, the on* handler attribute, and an object
 * with handleEvent, in that order; each records what it saw into `seen`.
 */
function attachThree(ws: WebSocket, type: 'open' | 'message' | 'error' | 'close', seen: Seen[]): void {
  const record = (self: unknown, e: Event): number =>
    seen.push({ currentTarget: e.currentTarget === ws, eventPhase: e.eventPhase, target: e.target === ws, self: self === ws });
  ws.addEventListener(type, function (this: unknown, e) {
    record(this, e);
  });
  (ws as unknown as Record<string, unknown>)[`on${type}`] = function (this: unknown, e: Event) {
    record(this, e);
  };
  ws.addEventListener(type, {
    handleEvent(e: Event) {
      record(ws, e); // handleEvent's this is the object; the target is what matters here
    },
  });
}

describe('every listener sees the event being dispatched at the WebSocket', () => {
  test('open: currentTarget and eventPhase AT_TARGET in the first, second and third listener', async () => {
    const seen: Seen[] = [];
    let event: Event | undefined;
    await connect((ws) => {
      attachThree(ws, 'open', seen);
      ws.addEventListener('open', (e) => (event = e));
    });
    expect(seen).toEqual([AT_TARGET, AT_TARGET, AT_TARGET]);
    // Once the dispatch is over the event is no longer being dispatched.
    expect(event?.eventPhase).toBe(0); // Event.NONE
  });

  test('message: the same, for a message from the server', async () => {
    const { ws, conn } = await connect();
    const seen: Seen[] = [];
    attachThree(ws, 'message', seen);
    conn.sendText('hello');
    const event = await next<MessageEvent>(ws, 'message');
    expect(event.data).toBe('hello');
    expect(seen).toEqual([AT_TARGET, AT_TARGET, AT_TARGET]);
    expect(event.eventPhase).toBe(0);
  });

  test('error and close: the same, when the server breaks the protocol (a reserved opcode)', async () => {
    const { ws, conn } = await connect();
    const errors: Seen[] = [];
    const closes: Seen[] = [];
    attachThree(ws, 'error', errors);
    attachThree(ws, 'close', closes);
    conn.sendRaw(Buffer.from([0x83, 0x00])); // FIN, opcode 3: reserved, so the client fails
    const close = await next<CloseEvent>(ws, 'close');
    expect(close.code).toBe(1006);
    expect(errors).toEqual([AT_TARGET, AT_TARGET, AT_TARGET]);
    expect(closes).toEqual([AT_TARGET, AT_TARGET, AT_TARGET]);
  });

  test('close: the same, for a clean close the server starts', async () => {
    const { ws, conn } = await connect();
    const seen: Seen[] = [];
    attachThree(ws, 'close', seen);
    conn.close(4000, 'bye');
    const close = await next<CloseEvent>(ws, 'close');
    expect([close.code, close.reason, close.wasClean]).toEqual([4000, 'bye', true]);
    expect(seen).toEqual([AT_TARGET, AT_TARGET, AT_TARGET]);
  });

  test('composedPath() is [the WebSocket] in the second listener, and the event cannot be dispatched again there', async () => {
    const { ws, conn } = await connect();
    let path: unknown[] = [];
    let redispatch: unknown = 'not tried';
    ws.addEventListener('message', () => {});
    ws.addEventListener('message', (e) => {
      path = e.composedPath();
      try {
        ws.dispatchEvent(e);
        redispatch = 'dispatched';
      } catch (error) {
        redispatch = (error as { code?: string }).code; // DOM's InvalidStateError, in Node's words
      }
    });
    conn.sendText('x');
    await next(ws, 'message');
    expect(path).toEqual([ws]);
    expect(redispatch).toBe('ERR_EVENT_RECURSION');
  });

  test('no WebIDL-visible shape changes: no own members on WebSocket.prototype, the events or the WebSocket', async () => {
    const { ws, conn } = await connect();
    for (const name of ['addEventListener', 'removeEventListener', 'dispatchEvent']) {
      expect(Object.prototype.hasOwnProperty.call(WebSocket.prototype, name)).toBe(false);
    }
    const inside: unknown[] = [];
    ws.addEventListener('message', () => {});
    ws.addEventListener('message', (e) => {
      inside.push(Object.getPrototypeOf(e) === MessageEvent.prototype, Object.getOwnPropertyNames(e), Object.getOwnPropertyNames(ws));
      inside.push(Object.getOwnPropertySymbols(e).map(String));
    });
    conn.sendText('x');
    await next(ws, 'message');
    const fresh = Object.getOwnPropertySymbols(new MessageEvent('message')).map(String);
    expect(inside).toEqual([true, [], [], fresh]);
  });
});

describe('listeners changed during a dispatch', () => {
  /** Sends `count` messages and resolves once the WebSocket has dispatched them all. */
  async function messages(ws: WebSocket, conn: ServerConnection, count: number): Promise<void> {
    let left = count;
    const done = new Promise<void>((resolve) => {
      const counter = (): void => {
        if (--left === 0) {
          ws.removeEventListener('message', counter);
          resolve();
        }
      };
      ws.addEventListener('message', counter);
    });
    for (let i = 1; i <= count; i++) conn.sendText(String(i));
    await within(done, 5000, `${count} message events`);
  }

  test('a listener added during a dispatch does not run for that event, and runs for the next one', async () => {
    const { ws, conn } = await connect();
    const log: string[] = [];
    const added = (e: Event): number => log.push(`added ${(e as MessageEvent).data as string}`);
    ws.addEventListener('message', (e) => {
      log.push(`first ${(e as MessageEvent).data as string}`);
      ws.addEventListener('message', added); // the second time, a duplicate: ignored
    });
    ws.addEventListener('message', (e) => log.push(`second ${(e as MessageEvent).data as string}`));
    await messages(ws, conn, 2);
    expect(log).toEqual(['first 1', 'second 1', 'first 2', 'second 2', 'added 2']);
  });

  test('a listener removed and added again during a dispatch does not run for it, and runs last for the next', async () => {
    const { ws, conn } = await connect();
    const log: string[] = [];
    const third = (e: Event): number => log.push(`third ${(e as MessageEvent).data as string}`);
    ws.addEventListener('message', (e) => {
      const data = (e as MessageEvent).data as string;
      log.push(`first ${data}`);
      if (data !== '1') return;
      ws.removeEventListener('message', third);
      ws.addEventListener('message', third);
    });
    ws.addEventListener('message', third);
    ws.addEventListener('message', (e) => log.push(`second ${(e as MessageEvent).data as string}`));
    await messages(ws, conn, 2);
    expect(log).toEqual(['first 1', 'second 1', 'first 2', 'second 2', 'third 2']);
  });

  test('an on* handler set during a dispatch (adding its listener) does not run for that event', async () => {
    const { ws, conn } = await connect();
    const log: string[] = [];
    ws.addEventListener('message', (e) => {
      log.push(`listener ${(e as MessageEvent).data as string}`);
      ws.onmessage ??= (m: MessageEvent) => log.push(`handler ${m.data as string}`);
    });
    ws.addEventListener('message', (e) => log.push(`other ${(e as MessageEvent).data as string}`));
    await messages(ws, conn, 2);
    expect(log).toEqual(['listener 1', 'other 1', 'listener 2', 'other 2', 'handler 2']);
  });

  test('a listener removed during a dispatch does not run; one added and removed again never runs', async () => {
    const { ws, conn } = await connect();
    const log: string[] = [];
    const removed = (): number => log.push('removed');
    const transient = (): number => log.push('transient');
    ws.addEventListener('message', () => {
      log.push('first');
      ws.removeEventListener('message', removed);
      ws.addEventListener('message', transient);
      ws.removeEventListener('message', transient);
    });
    ws.addEventListener('message', removed);
    ws.addEventListener('message', () => log.push('last'));
    await messages(ws, conn, 2);
    expect(log).toEqual(['first', 'last', 'first', 'last']);
  });

  test('a listener added during open runs for the first message; one added during error never runs for error', async () => {
    const log: string[] = [];
    const { ws, conn } = await connect((socket) => {
      socket.addEventListener('open', () => socket.addEventListener('message', () => log.push('message listener from open')));
      socket.addEventListener('open', () => socket.addEventListener('open', () => log.push('open listener from open')));
      socket.addEventListener('open', () => log.push('open'));
    });
    conn.sendText('m');
    await next(ws, 'message');
    ws.addEventListener('error', () => ws.addEventListener('error', () => log.push('error listener from error')));
    ws.addEventListener('error', () => log.push('error'));
    conn.sendRaw(Buffer.from([0x83, 0x00]));
    await next(ws, 'close');
    expect(log).toEqual(['open', 'message listener from open', 'error']);
  });
});
