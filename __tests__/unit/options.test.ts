/**
 * The constructor's second argument: the Standard's protocols, or a WebSocketInit dictionary of
 * Node-side options, validated into one frozen record before anything is connected.
 */
import { toConnectOptions } from '../../lib/options';
import { settings } from '../../lib/settings';

const convert = (value: unknown): ReturnType<typeof toConnectOptions> => toConnectOptions(value, 'WebSocket');

/** The error `fn` throws, as name and message. */
function thrown(fn: () => unknown): { name: string; message: string } {
  try {
    fn();
  } catch (error) {
    return { name: (error as Error).name, message: (error as Error).message };
  }
  throw new Error('nothing was thrown');
}

describe('protocols, as the Standard has them', () => {
  test.each<[string, unknown, string[]]>([
    ['undefined: none', undefined, []],
    ['null: the protocol "null", as browsers convert it', null, ['null']],
    ['a string: one protocol', 'chat', ['chat']],
    ['an array', ['a', 'b'], ['a', 'b']],
    ['a Set (any iterable)', new Set(['x']), ['x']],
    ['a dictionary member', { protocols: ['p', 'q'] }, ['p', 'q']],
    ['a dictionary member given as a string', { protocols: 'one' }, ['one']],
    ['an empty dictionary', {}, []],
  ])('%s', (_name, value, protocols) => {
    expect(convert(value).protocols).toEqual(protocols);
  });

  test('a number is one protocol (its string), not a dictionary', () => {
    expect(convert(42).protocols).toEqual(['42']);
  });
});

describe('dictionary members', () => {
  test('defaults come from the process-wide settings', () => {
    const o = convert({});
    expect(o).toMatchObject({
      headers: [],
      proxy: undefined,
      handshakeTimeout: settings.handshakeTimeoutMs,
      maxPayload: settings.maxMessageSize,
      perMessageDeflate: { threshold: 0 },
      heartbeat: null,
      socketPath: null,
      parallelConnect: false,
    });
    expect(Object.isFrozen(o)).toBe(true);
  });

  test('sockets made with no options share one record, which follows the process-wide settings when they change', () => {
    const first = convert(undefined);
    expect(convert([])).toBe(first);
    expect(convert(['chat'])).not.toBe(first);
    const saved = settings.handshakeTimeoutMs;
    settings.handshakeTimeoutMs = saved + 1234;
    try {
      const changed = convert(undefined);
      expect(changed).not.toBe(first);
      expect(changed.handshakeTimeout).toBe(saved + 1234);
      expect(first.handshakeTimeout).toBe(saved);
    } finally {
      settings.handshakeTimeoutMs = saved;
    }
    expect(convert(undefined).handshakeTimeout).toBe(saved);
  });

  test('a member whose value is undefined counts as absent; unknown members are ignored', () => {
    expect(convert({ maxPayload: undefined, handshakeTimeout: undefined, whatever: 1, rejectUnauthorized: false })).toEqual(convert({}));
  });

  test('members are read once each, in lexicographic order', () => {
    const reads: string[] = [];
    const init = new Proxy(
      { handshakeTimeout: 5, maxPayload: 10, protocols: ['p'], parallelConnect: true, heartbeat: { interval: 5 } },
      {
        get(target, key, receiver) {
          if (typeof key === 'string') reads.push(key);
          return Reflect.get(target, key, receiver);
        },
      },
    );
    convert(init);
    expect(reads).toEqual(['dispatcher', 'handshakeTimeout', 'headers', 'heartbeat', 'maxPayload', 'parallelConnect', 'perMessageDeflate', 'protocols', 'proxy', 'socketPath', 'tls']);
  });

  test('dispatcher throws, naming proxy and tls instead', () => {
    const error = thrown(() => convert({ dispatcher: {} }));
    expect(error.name).toBe('TypeError');
    expect(error.message).toMatch(/dispatcher is undici's option/);
    expect(error.message).toMatch(/options\.proxy/);
    expect(error.message).toMatch(/options\.tls/);
  });

  test.each<[string, unknown, RegExp]>([
    ['handshakeTimeout 0', { handshakeTimeout: 0 }, /options\.handshakeTimeout must be a finite number of milliseconds greater than 0; got 0/],
    ['handshakeTimeout Infinity', { handshakeTimeout: Infinity }, /options\.handshakeTimeout .* got Infinity/],
    ['handshakeTimeout "100"', { handshakeTimeout: '100' }, /options\.handshakeTimeout .* got "100"/],
    ['maxPayload 0', { maxPayload: 0 }, /options\.maxPayload must be an integer of at least 1; got 0/],
    ['maxPayload 1.5', { maxPayload: 1.5 }, /options\.maxPayload .* got 1\.5/],
    ['heartbeat without interval', { heartbeat: {} }, /options\.heartbeat\.interval .* got undefined/],
    ['heartbeat timeout -1', { heartbeat: { interval: 10, timeout: -1 } }, /options\.heartbeat\.timeout .* got -1/],
    ['heartbeat a number', { heartbeat: 1000 }, /options\.heartbeat must be an object/],
    ['perMessageDeflate a string', { perMessageDeflate: 'yes' }, /options\.perMessageDeflate must be a boolean or an object/],
    ['perMessageDeflate threshold -1', { perMessageDeflate: { threshold: -1 } }, /options\.perMessageDeflate\.threshold must be an integer of at least 0; got -1/],
    ['tls a string', { tls: 'yes' }, /options\.tls must be an object of tls\.connect options; got "yes"/],
    ['tls null', { tls: null }, /options\.tls must be an object/],
    ['proxy ftp:', { proxy: 'ftp://proxy:21' }, /options\.proxy must be an http: or https: URL; "ftp" is not supported/],
    ['proxy dictionary without url', { proxy: { headers: {} } }, /options\.proxy needs a url/],
    ['proxy with socketPath', { proxy: 'http://proxy:3128', socketPath: '/run/ws.sock' }, /options\.proxy and options\.socketPath cannot be used together/],
    ['socketPath empty', { socketPath: '' }, /options\.socketPath must be a non-empty path/],
    ['headers a string', { headers: 'X-A: 1' }, /options\.headers must be a Headers object, a record .* or a list of \[name, value\] pairs/],
    ['a header pair of 3 items', { headers: [['a', 'b', 'c']] }, /exactly 2 items; got 3/],
    ['a header pair that is a string', { headers: ['ab'] }, /as a \[name, value\] pair; got "ab"/],
  ])('%s is a TypeError that names the option and the value', (_name, value, message) => {
    const error = thrown(() => convert(value));
    expect(error.name).toBe('TypeError');
    expect(error.message).toMatch(/^Failed to construct 'WebSocket': /);
    expect(error.message).toMatch(message);
  });

  test('an unparsable proxy URL is a SyntaxError DOMException', () => {
    expect(thrown(() => convert({ proxy: 'http://[::1' }))).toEqual({ name: 'SyntaxError', message: expect.stringMatching(/options\.proxy "http:\/\/\[::1" is not a valid URL/) });
  });

  test('the interface name is the constructor being converted for', () => {
    expect(thrown(() => toConnectOptions({ maxPayload: 0 }, 'WebSocketStream')).message).toMatch(/^Failed to construct 'WebSocketStream': /);
  });

  test('values', () => {
    const o = convert({
      handshakeTimeout: 1500,
      maxPayload: 4096,
      perMessageDeflate: false,
      heartbeat: { interval: 200 },
      socketPath: '/run/app.sock',
      parallelConnect: 1,
    });
    expect(o).toMatchObject({ handshakeTimeout: 1500, maxPayload: 4096, perMessageDeflate: false, heartbeat: { interval: 200, timeout: 200 }, socketPath: '/run/app.sock', parallelConnect: true });
    expect(convert({ perMessageDeflate: true }).perMessageDeflate).toEqual({ threshold: 0 });
    expect(convert({ perMessageDeflate: { threshold: 1024 } }).perMessageDeflate).toEqual({ threshold: 1024 });
    expect(convert({ heartbeat: null }).heartbeat).toBeNull();
  });
});

describe('tls', () => {
  test('only the listed tls.connect keys are taken, over the process-wide ones', () => {
    const saved = settings.tls;
    settings.tls = { ca: 'process-ca' };
    try {
      const o = convert({ tls: { cert: 'c', key: 'k', servername: 's', host: 'evil', port: 1, path: '/x', ALPNProtocols: ['h2'] } });
      expect(o.tls).toEqual({ ca: 'process-ca', cert: 'c', key: 'k', servername: 's' });
    } finally {
      settings.tls = saved;
    }
  });

  test('verification turns off only for rejectUnauthorized: false itself', () => {
    expect(convert({ tls: { rejectUnauthorized: false } }).tls.rejectUnauthorized).toBe(false);
    expect(convert({ tls: { rejectUnauthorized: 0 } }).tls.rejectUnauthorized).toBe(true);
    expect(convert({ tls: { rejectUnauthorized: '' } }).tls.rejectUnauthorized).toBe(true);
    expect(convert({ tls: { rejectUnauthorized: null } }).tls.rejectUnauthorized).toBe(true);
    expect(convert({ tls: {} }).tls.rejectUnauthorized).toBeUndefined();
  });
});

describe('headers', () => {
  test.each<[string, unknown]>([
    ['a record', { 'X-Api-Key': 'k1', Cookie: 'a=1' }],
    ['pairs', [['X-Api-Key', 'k1'], ['Cookie', 'a=1']]],
    ['a Map', new Map([['X-Api-Key', 'k1'], ['Cookie', 'a=1']])],
  ])('%s', (_name, headers) => {
    expect(convert({ headers }).headers).toEqual([['X-Api-Key', 'k1'], ['Cookie', 'a=1']]);
  });

  test('a Headers object gives its (lower-cased) pairs', () => {
    const h = new Headers();
    h.append('X-Api-Key', 'k1');
    h.append('Authorization', 'Bearer t');
    expect(convert({ headers: h }).headers).toEqual([['authorization', 'Bearer t'], ['x-api-key', 'k1']]);
  });

  test('repeated names are kept in the order given; values lose surrounding whitespace, as Fetch normalizes them', () => {
    expect(convert({ headers: [['X-A', ' 1 '], ['x-a', '\t2']] }).headers).toEqual([['X-A', '1'], ['x-a', '2']]);
  });

  test.each(['Host', 'Origin', 'User-Agent', 'Authorization', 'Cookie'])('%s may be given', (name) => {
    expect(convert({ headers: { [name]: 'v' } }).headers).toEqual([[name, 'v']]);
  });

  test.each([
    ['Sec-WebSocket-Key', /the handshake generates it/],
    ['sec-websocket-version', /always 13/],
    ['Sec-WebSocket-Accept', /response header/],
    ['Sec-WebSocket-Extensions', /use the perMessageDeflate option instead/],
    ['SEC-WEBSOCKET-PROTOCOL', /use the protocols option instead/],
    ['Upgrade', /the handshake sets it/],
    ['Connection', /the handshake sets it/],
    ['Content-Length', /no body/],
    ['Transfer-Encoding', /no body/],
    ['Keep-Alive', /becomes a WebSocket/],
    ['TE', /no body/],
    ['Trailer', /no body/],
  ])('%s cannot be given: a TypeError that says what to do', (name, why) => {
    const error = thrown(() => convert({ headers: { [name]: 'x' } }));
    expect(error.name).toBe('TypeError');
    expect(error.message).toMatch(new RegExp(`the ${name} header cannot be set`));
    expect(error.message).toMatch(why);
  });

  test.each<[string, [string, string]]>([
    ['CR LF in a value', ['X-A', 'a\r\nX-Injected: 1']],
    ['a bare LF in a value', ['X-A', 'a\nb']],
    ['a bare CR in a value', ['X-A', 'a\rb']],
    ['NUL in a value', ['X-A', 'a\0b']],
    ['CR LF in a name', ['X-A\r\nX-Injected', '1']],
    ['a colon in a name', ['X-A: 1\r\n', '']],
    ['a space in a name', ['X A', '1']],
    ['an empty name', ['', '1']],
  ])('injection: %s is a TypeError', (_name, pair) => {
    expect(thrown(() => convert({ headers: [pair] })).name).toBe('TypeError');
  });
});

describe('proxy', () => {
  test('a string, a URL, or { url, headers, tls }', () => {
    expect(convert({ proxy: 'http://u:p@proxy.local:3128' }).proxy).toMatchObject({ url: new URL('http://u:p@proxy.local:3128'), headers: [], tls: {} });
    expect(convert({ proxy: new URL('https://proxy.local/') }).proxy?.url.href).toBe('https://proxy.local/');
    const o = convert({ proxy: { url: 'https://proxy.local:8443', headers: { 'X-Tenant': 't1', 'Proxy-Authorization': 'Basic eA==' }, tls: { ca: 'proxy-ca' } } });
    expect(o.proxy).toMatchObject({ headers: [['X-Tenant', 't1'], ['Proxy-Authorization', 'Basic eA==']], tls: { ca: 'proxy-ca' } });
  });

  test('null means no proxy at all; absent means the environment decides', () => {
    expect(convert({ proxy: null }).proxy).toBeNull();
    expect(convert({}).proxy).toBeUndefined();
  });

  test.each(['Host', 'Content-Length', 'Connection'])('a CONNECT header %s cannot be given', (name) => {
    expect(thrown(() => convert({ proxy: { url: 'http://p', headers: { [name]: 'x' } } })).message).toMatch(new RegExp(`options\\.proxy\\.headers: the ${name} header cannot be set`));
  });

  test('injection through proxy headers is a TypeError', () => {
    expect(thrown(() => convert({ proxy: { url: 'http://p', headers: { 'X-A': 'a\r\nHost: evil' } } })).name).toBe('TypeError');
  });
});
