/**
 * The WebSocket constructor, the ready states, and close(): what a user sees, checked against
 * what the TestServer received on the wire.
 * @see https://websockets.spec.whatwg.org/#dom-websocket-websocket
 * @see https://websockets.spec.whatwg.org/#dom-websocket-close
 */
import { CloseEvent, WebSocket } from '../../lib/ponyfill';
import { TestServer } from '../../lib/server';
import { next, domExceptionName } from '../helpers/events';

let server: TestServer;
const sockets: WebSocket[] = [];

beforeEach(async () => {
  server = await TestServer.start();
});
afterEach(async () => {
  // Sockets a test left open must not keep the server (or jest) waiting.
  for (const ws of sockets.splice(0)) if (ws.readyState !== WebSocket.CLOSED) ws.close();
  await server.close();
});

/** A WebSocket that afterEach closes if the test did not. */
function connect(url: string | URL, protocols?: string | Iterable<string>): WebSocket {
  const ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
  sockets.push(ws);
  return ws;
}

describe('constructor', () => {
  test('returns at once in CONNECTING, then opens after the handshake', async () => {
    const ws = connect(server.url());
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
    expect(server.requests).toHaveLength(0); // nothing has been written yet
    const open = next(ws, 'open');
    await server.nextConnection();
    await open;
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  test('sends the Host header and the resource (path and query) of the URL', async () => {
    const ws = connect(server.url('/chat/room?id=7&x=%20y'));
    await next(ws, 'open');
    expect(server.requests[0].resource).toBe('/chat/room?id=7&x=%20y');
    expect(server.requests[0].headers.get('host')).toBe(`127.0.0.1:${server.port}`);
  });

  // The request target is the URL record as Fetch serializes it: an empty query keeps its "?".
  test('sends "/" as the path for a URL without one, and keeps the "?" of an empty query', async () => {
    const ws = connect(`ws://127.0.0.1:${server.port}?`);
    await next(ws, 'open');
    expect(ws.url).toBe(`ws://127.0.0.1:${server.port}/?`);
    expect(server.requests[0].resource).toBe('/?');
  });

  test('a relative URL is a SyntaxError when there is no global location', () => {
    expect((globalThis as { location?: unknown }).location).toBeUndefined();
    expect(domExceptionName(() => new WebSocket('/chat'))).toBe('SyntaxError');
    expect(domExceptionName(() => new WebSocket('chat'))).toBe('SyntaxError');
  });

  test('a relative URL resolves against a global location, and http: becomes ws:', async () => {
    const g = globalThis as { location?: { href: string } };
    g.location = { href: `http://127.0.0.1:${server.port}/base/page.html?q=1` };
    let ws: WebSocket;
    try {
      ws = connect('chat?room=2');
    } finally {
      delete g.location;
    }
    expect(ws.url).toBe(`ws://127.0.0.1:${server.port}/base/chat?room=2`);
    await next(ws, 'open');
    expect(server.requests[0].resource).toBe('/base/chat?room=2');
  });

  test('http: becomes ws: and https: becomes wss: in the url attribute', async () => {
    const ws = connect(`http://127.0.0.1:${server.port}/p`);
    expect(ws.url).toBe(`ws://127.0.0.1:${server.port}/p`);
    await next(ws, 'open'); // and it really connects over ws:
    const secure = new WebSocket('https://127.0.0.1:1/q');
    expect(secure.url).toBe('wss://127.0.0.1:1/q');
    secure.close();
    // Default ports stay implicit: 80 is the default of both http and ws, 443 of https and wss.
    const a = new WebSocket('http://127.0.0.1:80/');
    expect(a.url).toBe('ws://127.0.0.1/');
    a.close();
    const b = new WebSocket('https://127.0.0.1:443/');
    expect(b.url).toBe('wss://127.0.0.1/');
    b.close();
    await Promise.all([next(secure, 'close'), next(a, 'close'), next(b, 'close')]);
  });

  test.each(['ftp://127.0.0.1/', 'file:///x', 'javascript:alert(1)', 'data:text/plain,hi', 'about:blank', 'blob:ws://x/y'])(
    'scheme of %s is a SyntaxError',
    (url) => {
      expect(domExceptionName(() => new WebSocket(url))).toBe('SyntaxError');
    },
  );

  test.each(['ws://127.0.0.1/#frag', 'ws://127.0.0.1/#', 'ws://127.0.0.1/path?q=1#', 'http://127.0.0.1/#x'])(
    'a fragment in %s is a SyntaxError',
    (url) => {
      expect(domExceptionName(() => new WebSocket(url))).toBe('SyntaxError');
    },
  );

  test.each(['', 'ws://', 'ws://exa mple.com/', 'not a url', 'ws://[::1/', 'ws://127.0.0.1:99999/'])(
    'the invalid URL %j is a SyntaxError DOMException',
    (url) => {
      expect(domExceptionName(() => new WebSocket(url))).toBe('SyntaxError');
    },
  );

  test('a URL object is converted with ToString', async () => {
    const ws = connect(new URL(server.url('/from-url?a=b')));
    expect(ws.url).toBe(server.url('/from-url?a=b'));
    await next(ws, 'open');
    expect(server.requests[0].resource).toBe('/from-url?a=b');
  });

  test('no arguments is a TypeError', () => {
    const Ctor = WebSocket as unknown as new () => WebSocket;
    expect(() => new Ctor()).toThrow(TypeError);
  });

  test('calling it without new is a TypeError', () => {
    const call = WebSocket as unknown as (url: string) => WebSocket;
    expect(() => call(server.url())).toThrow(TypeError);
  });

  describe('protocols', () => {
    /** Connects offering `protocols` and returns what the server saw offered. */
    async function offered(protocols: string | Iterable<string>): Promise<string[]> {
      const ws = connect(server.url(), protocols);
      await next(ws, 'open');
      return server.requests[server.requests.length - 1].protocols;
    }

    test('a string offers that one protocol', async () => {
      expect(await offered('chat')).toEqual(['chat']);
    });

    test('an array offers each, in order', async () => {
      expect(await offered(['v2.chat', 'v1.chat'])).toEqual(['v2.chat', 'v1.chat']);
    });

    test('any iterable is a sequence: a Set, and a generator', async () => {
      expect(await offered(new Set(['a', 'b']))).toEqual(['a', 'b']);
      function* gen(): Generator<string> {
        yield 'x';
        yield 'y';
      }
      expect(await offered(gen())).toEqual(['x', 'y']);
    });

    test('an empty array offers none: no Sec-WebSocket-Protocol header', async () => {
      expect(await offered([])).toEqual([]);
      expect(server.requests[0].headers.has('sec-websocket-protocol')).toBe(false);
    });

    test('duplicates are found case-sensitively: "chat" and "CHAT" are two protocols', async () => {
      expect(await offered(['chat', 'CHAT'])).toEqual(['chat', 'CHAT']);
    });

    test.each([[['a', 'a']], [['chat', 'x', 'chat']]])('duplicates %j are a SyntaxError', (protocols) => {
      expect(domExceptionName(() => new WebSocket(server.url(), protocols))).toBe('SyntaxError');
    });

    test.each(['', 'a b', 'é', 'a,b', 'a;b', '(x)', 'a\tb', '"q"', 'a/b', 'a\u0000'])('the invalid token %j is a SyntaxError', (token) => {
      expect(domExceptionName(() => new WebSocket(server.url(), token))).toBe('SyntaxError');
      expect(domExceptionName(() => new WebSocket(server.url(), ['ok', token]))).toBe('SyntaxError');
    });

    test('an object without Symbol.iterator is an options dictionary, not a string; a non-callable Symbol.iterator is a TypeError', async () => {
      // Not '[object Object]' (which would be a SyntaxError): a WebSocketInit with no protocols.
      expect(await offered({ toString: () => 'chat' } as unknown as string)).toEqual([]);
      expect(() => new WebSocket(server.url(), { [Symbol.iterator]: 1 } as unknown as string)).toThrow(TypeError);
    });

    test('a throwing URL conversion or protocol conversion propagates, and no connection is attempted', () => {
      const bad = {
        toString(): string {
          throw new RangeError('no');
        },
      };
      expect(() => new WebSocket(bad as unknown as string)).toThrow(RangeError);
      expect(() => new WebSocket(server.url(), [bad as unknown as string])).toThrow(RangeError);
      expect(() => new WebSocket(server.url(), [Symbol('s') as unknown as string])).toThrow(TypeError);
      expect(server.sockets.size).toBe(0);
    });

    test('protocol is "" until open, then the one the server selected', async () => {
      await server.close();
      server = await TestServer.start({ selectProtocol: (offer) => offer[1] });
      const ws = connect(server.url(), ['one', 'two']);
      expect(ws.protocol).toBe('');
      expect(ws.extensions).toBe('');
      await next(ws, 'open');
      expect(ws.protocol).toBe('two');
      expect(ws.extensions).toBe(''); // we offer no extensions, so none can be in use
    });

    test('protocol stays "" when the server selects none', async () => {
      await server.close();
      server = await TestServer.start({ selectProtocol: () => undefined });
      const ws = connect(server.url());
      await next(ws, 'open');
      expect(ws.protocol).toBe('');
    });
  });
});

describe('readyState', () => {
  test('goes CONNECTING, OPEN, CLOSING (right after close()), CLOSED (in the close event)', async () => {
    const ws = connect(server.url());
    const seen: number[] = [ws.readyState];
    await next(ws, 'open');
    seen.push(ws.readyState);
    ws.close();
    seen.push(ws.readyState);
    await next(ws, 'close');
    seen.push(ws.readyState);
    expect(seen).toEqual([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED]);
  });

  test('becomes CLOSING in a task once the server starts the closing handshake', async () => {
    await server.close();
    server = await TestServer.start({ mode: 'script' });
    const ws = connect(server.url());
    await next(ws, 'open');
    const conn = await server.nextConnection();
    // A message the server sends before its Close frame: its task runs while still OPEN.
    conn.sendText('last');
    conn.close(4001, 'done');
    const message = await next<MessageEvent>(ws, 'message');
    expect(message.data).toBe('last');
    expect(ws.readyState).toBe(WebSocket.OPEN);
    const close = await next<CloseEvent>(ws, 'close');
    expect(close.code).toBe(4001);
  });
});

describe('close()', () => {
  test('close(1000, "bye"): the server gets exactly 1000 and "bye"; the event is clean with the same', async () => {
    await server.close();
    server = await TestServer.start({ mode: 'script' });
    const ws = connect(server.url());
    await next(ws, 'open');
    const conn = await server.nextConnection();
    ws.close(1000, 'bye');
    expect(await conn.next('close')).toEqual({ type: 'close', code: 1000, reason: 'bye' });
    const event = await next<CloseEvent>(ws, 'close');
    expect(event).toBeInstanceOf(CloseEvent);
    expect({ wasClean: event.wasClean, code: event.code, reason: event.reason }).toEqual({ wasClean: true, code: 1000, reason: 'bye' });
  });

  test('a code of 3000-4999 and a UTF-8 reason reach the server as given', async () => {
    await server.close();
    server = await TestServer.start({ mode: 'script' });
    const ws = connect(server.url());
    await next(ws, 'open');
    const conn = await server.nextConnection();
    ws.close(4999, 'tschüß ✓');
    expect(await conn.next('close')).toEqual({ type: 'close', code: 4999, reason: 'tschüß ✓' });
    const event = await next<CloseEvent>(ws, 'close');
    expect([event.code, event.reason, event.wasClean]).toEqual([4999, 'tschüß ✓', true]);
  });

  test('close() with no arguments sends a Close frame with no body: the server sees 1005, and so does the client', async () => {
    await server.close();
    server = await TestServer.start({ mode: 'script' });
    const ws = connect(server.url());
    await next(ws, 'open');
    const conn = await server.nextConnection();
    ws.close();
    expect(await conn.next('close')).toEqual({ type: 'close', code: 1005, reason: '' });
    const event = await next<CloseEvent>(ws, 'close');
    expect([event.code, event.reason, event.wasClean]).toEqual([1005, '', true]);
  });

  test('a server-initiated close delivers the server code and reason, cleanly', async () => {
    await server.close();
    server = await TestServer.start({ mode: 'script' });
    const ws = connect(server.url());
    await next(ws, 'open');
    const conn = await server.nextConnection();
    conn.close(4321, 'server says bye');
    const event = await next<CloseEvent>(ws, 'close');
    expect([event.code, event.reason, event.wasClean]).toEqual([4321, 'server says bye', true]);
    // The client echoed the code back, as RFC 6455 §5.5.1 asks.
    expect((await conn.next('close')).code).toBe(4321);
  });

  test('the close reason is decoded without stripping a BOM (UTF-8 decode without BOM)', async () => {
    await server.close();
    server = await TestServer.start({ mode: 'script' });
    const ws = connect(server.url());
    await next(ws, 'open');
    const conn = await server.nextConnection();
    conn.close(4000, '\uFEFFbom');
    expect((await next<CloseEvent>(ws, 'close')).reason).toBe('\uFEFFbom');
  });

  test('a server Close frame with no body gives the close event code 1005', async () => {
    await server.close();
    server = await TestServer.start({ mode: 'script' });
    const ws = connect(server.url());
    await next(ws, 'open');
    const conn = await server.nextConnection();
    conn.close();
    const event = await next<CloseEvent>(ws, 'close');
    expect([event.code, event.reason, event.wasClean]).toEqual([1005, '', true]);
  });

  test('messages sent before close() reach the server before the Close frame', async () => {
    await server.close();
    server = await TestServer.start({ mode: 'script' });
    const ws = connect(server.url());
    await next(ws, 'open');
    const conn = await server.nextConnection();
    ws.send('one');
    ws.send(new Uint8Array([2]));
    ws.send(new Blob(['three']));
    ws.send('four');
    ws.close(1000);
    const seen: unknown[] = [];
    for (;;) {
      const e = await conn.events.next(5000, 'a server event');
      if (e.type === 'message') seen.push(e.isText ? e.data.toString() : [...e.data]);
      else if (e.type === 'close') {
        seen.push(e.code);
        break;
      }
    }
    expect(seen).toEqual(['one', [2], [...Buffer.from('three')], 'four', 1000]);
    await next(ws, 'close');
  });

  test('calling close() twice, or after the close event, is harmless: one Close frame, one close event', async () => {
    await server.close();
    server = await TestServer.start({ mode: 'script' });
    const ws = connect(server.url());
    await next(ws, 'open');
    const conn = await server.nextConnection();
    let closes = 0;
    ws.addEventListener('close', () => closes++);
    ws.close(3001, 'first');
    ws.close(3002, 'second');
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    expect(await conn.next('close')).toEqual({ type: 'close', code: 3001, reason: 'first' });
    await next(ws, 'close');
    ws.close();
    ws.close(1000, 'again');
    expect(ws.readyState).toBe(WebSocket.CLOSED);
    await conn.closed;
    expect(closes).toBe(1);
    expect(conn.events.pending.filter((e) => e.type === 'close' || e.type === 'message')).toEqual([]);
  });

  test('close() after the server started closing changes readyState only, and the server code wins', async () => {
    await server.close();
    server = await TestServer.start({ mode: 'script', answerClose: false });
    const ws = connect(server.url());
    await next(ws, 'open');
    const conn = await server.nextConnection();
    conn.close(4002, 'srv');
    // The client answers the server's Close frame before any task runs.
    expect((await conn.next('close')).code).toBe(4002);
    ws.close(1000, 'late');
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    conn.destroy();
    const event = await next<CloseEvent>(ws, 'close');
    expect([event.code, event.reason]).toEqual([4002, 'srv']);
  });

  describe('argument checks', () => {
    let ws: WebSocket;
    beforeEach(async () => {
      ws = connect(server.url());
      await next(ws, 'open');
    });

    test.each([999, 1001, 1005, 1006, 1015, 2999, 5000, 0, -1, 65535, 65536, 1e9, Infinity, NaN, '1001', 'abc'])(
      'code %p is an InvalidAccessError (after [Clamp] conversion), and the socket stays open',
      (code) => {
        expect(domExceptionName(() => ws.close(code as number))).toBe('InvalidAccessError');
        expect(ws.readyState).toBe(WebSocket.OPEN);
      },
    );

    test.each([
      [1000, 1000],
      [3000, 3000],
      [4999, 4999],
      [3000.4, 3000],
      [2999.5, 3000], // rounds half to even: 3000
      [4999.5, 5000], // rounds half to even: 5000, which is invalid
      ['3005', 3005],
      [{ valueOf: (): number => 3006 }, 3006],
    ] as const)('code %p is clamped to %p', async (code, expected) => {
      const conn = await server.nextConnection();
      if (expected === 5000) {
        expect(domExceptionName(() => ws.close(code as number))).toBe('InvalidAccessError');
        return;
      }
      ws.close(code as number);
      expect((await conn.next('close')).code).toBe(expected);
    });

    test('a code that cannot convert (a Symbol, a BigInt) is a TypeError', () => {
      expect(() => ws.close(Symbol('c') as unknown as number)).toThrow(TypeError);
      expect(() => ws.close(1000n as unknown as number)).toThrow(TypeError);
      // ToNumber, not Number(): a BigInt from valueOf is a TypeError too.
      expect(() => ws.close({ valueOf: () => 1000n } as unknown as number)).toThrow(TypeError);
      expect(ws.readyState).toBe(WebSocket.OPEN);
    });

    test('a reason over 123 bytes of UTF-8 is a SyntaxError; 123 bytes are fine', async () => {
      const conn = await server.nextConnection();
      expect(domExceptionName(() => ws.close(1000, 'é'.repeat(62)))).toBe('SyntaxError'); // 124 bytes, 62 chars
      expect(domExceptionName(() => ws.close(1000, 'x'.repeat(124)))).toBe('SyntaxError');
      expect(ws.readyState).toBe(WebSocket.OPEN);
      const reason = 'x' + 'é'.repeat(61); // 1 + 122 = 123 bytes
      ws.close(1000, reason);
      expect(await conn.next('close')).toEqual({ type: 'close', code: 1000, reason });
      expect((await next<CloseEvent>(ws, 'close')).reason).toBe(reason);
    });

    test('the code is checked before the reason', () => {
      expect(domExceptionName(() => ws.close(1001, 'x'.repeat(200)))).toBe('InvalidAccessError');
    });

    test('a lone surrogate in the reason becomes U+FFFD on the wire', async () => {
      const conn = await server.nextConnection();
      ws.close(1000, 'a\uD800b');
      expect((await conn.next('close')).reason).toBe('a\uFFFDb');
    });

    test('the checks apply in every state: invalid arguments throw even when CLOSED', async () => {
      ws.close();
      await next(ws, 'close');
      expect(domExceptionName(() => ws.close(1001))).toBe('InvalidAccessError');
      expect(domExceptionName(() => ws.close(1000, 'x'.repeat(124)))).toBe('SyntaxError');
    });
  });

  test('close() while CONNECTING fails the connection: error, then close 1006 not clean, never open', async () => {
    await server.close();
    // A server that accepts TCP and never answers the handshake: the client stays CONNECTING.
    server = await TestServer.start({ respond: () => null });
    const ws = connect(server.url());
    const order: string[] = [];
    for (const type of ['open', 'error', 'close']) ws.addEventListener(type, (e) => order.push(e.type));
    // Wait until the request is on the server, so a TCP connection really is being dropped.
    while (server.requests.length === 0) await new Promise((resolve) => setImmediate(resolve));
    ws.close(1000, 'never mind');
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    const event = await next<CloseEvent>(ws, 'close');
    expect(order).toEqual(['error', 'close']);
    expect([event.code, event.reason, event.wasClean]).toEqual([1006, '', false]);
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  test('close() in the same task as the constructor: error then close 1006, and no open even though the server accepts', async () => {
    const ws = connect(server.url());
    const order: string[] = [];
    for (const type of ['open', 'error', 'close']) ws.addEventListener(type, (e) => order.push(e.type));
    ws.close();
    await next(ws, 'close');
    expect(order).toEqual(['error', 'close']);
  });
});
