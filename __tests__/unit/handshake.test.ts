import {
  acceptKeyFor,
  basicCredentials,
  buildClientRequest,
  buildServerResponse,
  generateKey,
  hasBasicChallenge,
  type HttpHead,
  HttpHeadReader,
  parseHead,
  splitList,
  validateClientRequest,
  validateServerResponse,
} from '../../lib/handshake';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** Parses a head written as lines, failing the test if it does not parse. */
function head(...lines: string[]): HttpHead {
  const parsed = parseHead(lines.join('\r\n'));
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}

/** A valid 101 for KEY, with header lines replaced (value null = removed) or added. */
function response(overrides: Record<string, string | null> = {}, status = 'HTTP/1.1 101 Switching Protocols'): HttpHead {
  const base: Record<string, string | null> = {
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Accept': ACCEPT,
    ...overrides,
  };
  const lines = Object.entries(base)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k}: ${v}`);
  return head(status, ...lines);
}

describe('keys', () => {
  test('the RFC 6455 §1.3 example: the accept value for "dGhlIHNhbXBsZSBub25jZQ=="', () => {
    expect(acceptKeyFor(KEY)).toBe(ACCEPT);
  });

  test('generateKey gives 16 random bytes in base64, fresh each time', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const key = generateKey();
      expect(key).toMatch(/^[A-Za-z0-9+/]{22}==$/);
      expect(Buffer.from(key, 'base64')).toHaveLength(16);
      keys.add(key);
    }
    expect(keys.size).toBe(50);
  });
});

describe('buildClientRequest', () => {
  test('the exact bytes, without protocols', () => {
    expect(buildClientRequest({ host: 'example.com', resource: '/chat?x=1', key: KEY, protocols: [] })).toBe(
      'GET /chat?x=1 HTTP/1.1\r\n' +
        'Host: example.com\r\n' +
        'Connection: Upgrade\r\n' +
        'Pragma: no-cache\r\n' +
        'Cache-Control: no-cache\r\n' +
        'User-Agent: node\r\n' +
        'Upgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\n' +
        `Sec-WebSocket-Key: ${KEY}\r\n` +
        '\r\n',
    );
  });

  test('Host carries a non-default port; protocols are joined with ", "; extra headers follow', () => {
    const port = new URL('ws://127.0.0.1:8080/').host;
    const text = buildClientRequest({
      host: port,
      resource: '/',
      key: KEY,
      protocols: ['chat', 'superchat'],
      extraHeaders: [['X-Test', 'yes']],
    });
    expect(text).toBe(
      'GET / HTTP/1.1\r\n' +
        'Host: 127.0.0.1:8080\r\n' +
        'Connection: Upgrade\r\n' +
        'Pragma: no-cache\r\n' +
        'Cache-Control: no-cache\r\n' +
        'User-Agent: node\r\n' +
        'Upgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\n' +
        `Sec-WebSocket-Key: ${KEY}\r\n` +
        'Sec-WebSocket-Protocol: chat, superchat\r\n' +
        'X-Test: yes\r\n' +
        '\r\n',
    );
    // URL.host drops a default port and keeps IPv6 brackets, which is what Host wants.
    expect(new URL('ws://example.com:80/').host).toBe('example.com');
    expect(new URL('wss://[::1]:443/').host).toBe('[::1]');
    expect(buildClientRequest({ host: new URL('ws://[::1]:9001/').host, resource: '/', key: KEY, protocols: [] })).toContain('\r\nHost: [::1]:9001\r\n');
  });

  test('the request is one the server side accepts, with the same parts', () => {
    const text = buildClientRequest({ host: 'h:1', resource: '/p', key: KEY, protocols: ['a', 'b'] });
    const parsed = parseHead(text.slice(0, -4));
    if (typeof parsed === 'string') throw new Error(parsed);
    const request = validateClientRequest(parsed);
    expect(request).toMatchObject({ resource: '/p', key: KEY, protocols: ['a', 'b'] });
  });

  test('Chromium order with every optional header; given Host, Origin, User-Agent, Authorization and Cookie take our place', () => {
    const text = buildClientRequest({
      host: 'example.com',
      resource: '/',
      key: KEY,
      protocols: ['p'],
      origin: 'https://app.example',
      authorization: 'Basic dTpw',
      extensions: 'permessage-deflate; client_max_window_bits',
      extraHeaders: [
        ['X-Api-Key', 'k'],
        ['cookie', 'a=1'],
        ['user-agent', 'mine/1'],
        ['Origin', 'https://other.example'],
      ],
    });
    expect(text.split('\r\n')).toEqual([
      'GET / HTTP/1.1',
      'Host: example.com',
      'Connection: Upgrade',
      'Pragma: no-cache',
      'Cache-Control: no-cache',
      'user-agent: mine/1',
      'Upgrade: websocket',
      'Origin: https://other.example',
      'Sec-WebSocket-Version: 13',
      'Authorization: Basic dTpw',
      'cookie: a=1',
      `Sec-WebSocket-Key: ${KEY}`,
      'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits',
      'Sec-WebSocket-Protocol: p',
      'X-Api-Key: k',
      '',
      '',
    ]);
  });
});

describe('basicCredentials and hasBasicChallenge', () => {
  test.each([
    ['ws://user:pass@h/', 'user:pass'],
    ['ws://user@h/', 'user:'],
    ['ws://us%20er:pa%20ss@h/', 'us er:pa ss'],
    ['ws://%C3%BC:%E2%82%AC@h/', 'ü:€'],
    ['ws://a:b%zz@h/', 'a:b%zz'],
  ])('%s sends Basic base64(%j)', (url, pair) => {
    expect(basicCredentials(new URL(url))).toBe(`Basic ${Buffer.from(pair, 'utf8').toString('base64')}`);
  });

  test.each([
    ['Basic realm="x"', true],
    ['basic', true],
    ['Bearer realm="x", Basic realm="y"', true],
    ['Bearer realm="Basic"', false],
    ['Digest realm="x"', false],
    ['Basically', false],
  ])('WWW-Authenticate %j offers Basic: %s', (value, expected) => {
    expect(hasBasicChallenge(value)).toBe(expected);
  });
  test('no WWW-Authenticate offers nothing', () => expect(hasBasicChallenge(undefined)).toBe(false));

});

describe('HttpHeadReader', () => {
  const text = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' + `Sec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`;
  const frames = Buffer.from('810548656c6c6f8900', 'hex');
  const bytes = Buffer.concat([Buffer.from(text, 'latin1'), frames]);

  test('the whole response at once: the head, and the frames after it as rest', () => {
    const result = new HttpHeadReader().push(Buffer.from(bytes));
    if (result.kind !== 'head') throw new Error(`expected a head, got ${result.kind}`);
    expect(result.head.startLine).toBe('HTTP/1.1 101 Switching Protocols');
    expect(result.head.headers.get('sec-websocket-accept')).toBe(ACCEPT);
    expect(result.rest.toString('hex')).toBe(frames.toString('hex'));
  });

  test('a reader that returned a head starts afresh: the next head gets the whole limit', () => {
    const head = Buffer.from(text, 'latin1');
    const reader = new HttpHeadReader(head.length);
    for (let round = 0; round < 3; round++) {
      // Byte by byte: the blank line is found across chunk boundaries each time.
      let result: ReturnType<HttpHeadReader['push']> = { kind: 'more' };
      for (let i = 0; i < head.length; i++) result = reader.push(Buffer.from(head.subarray(i, i + 1)));
      expect({ round, kind: result.kind }).toEqual({ round, kind: 'head' });
    }
  });

  test('split in two at every byte', () => {
    for (let cut = 1; cut < bytes.length; cut++) {
      const reader = new HttpHeadReader();
      const first = reader.push(Buffer.from(bytes.subarray(0, cut)));
      const headEnd = text.length;
      if (cut >= headEnd) {
        expect({ cut, kind: first.kind }).toEqual({ cut, kind: 'head' });
        if (first.kind === 'head') expect(first.rest.toString('hex')).toBe(frames.subarray(0, cut - headEnd).toString('hex'));
        continue;
      }
      expect({ cut, kind: first.kind }).toEqual({ cut, kind: 'more' });
      const second = reader.push(Buffer.from(bytes.subarray(cut)));
      if (second.kind !== 'head') throw new Error(`cut ${cut}: expected a head, got ${second.kind}`);
      expect(second.head.headers.get('upgrade')).toBe('websocket');
      expect(second.rest.toString('hex')).toBe(frames.toString('hex'));
    }
  });

  test('one byte at a time', () => {
    const reader = new HttpHeadReader();
    for (let i = 0; i < text.length - 1; i++) expect(reader.push(Buffer.from(bytes.subarray(i, i + 1))).kind).toBe('more');
    const last = reader.push(Buffer.from(bytes.subarray(text.length - 1)));
    if (last.kind !== 'head') throw new Error(`expected a head, got ${last.kind}`);
    expect(last.head.headers.get('connection')).toBe('Upgrade');
    expect(last.rest.toString('hex')).toBe(frames.toString('hex'));
  });

  test('no rest when the head ends the chunk', () => {
    const result = new HttpHeadReader().push(Buffer.from(text, 'latin1'));
    expect(result.kind === 'head' && result.rest.length).toBe(0);
  });

  test('the head size limit: a head of exactly the limit passes, one byte more fails', () => {
    const limit = text.length;
    expect(new HttpHeadReader(limit).push(Buffer.from(bytes)).kind).toBe('head');
    const over = new HttpHeadReader(limit - 1).push(Buffer.from(bytes));
    expect(over.kind).toBe('error');
    expect(over.kind === 'error' && over.message).toMatch(/exceeds/);
  });

  test('a head that never ends fails once it passes the limit, without waiting for more', () => {
    const reader = new HttpHeadReader(100);
    expect(reader.push(Buffer.from('HTTP/1.1 101 OK\r\nX: ' + 'a'.repeat(60))).kind).toBe('more'); // 80 bytes
    expect(reader.push(Buffer.from('a'.repeat(20))).kind).toBe('more'); // 100: at the limit
    expect(reader.push(Buffer.from('a')).kind).toBe('error'); // 101
  });

  test('a malformed header line is an error', () => {
    expect(new HttpHeadReader().push(Buffer.from('HTTP/1.1 101 OK\r\nno colon here\r\n\r\n')).kind).toBe('error');
    expect(new HttpHeadReader().push(Buffer.from('HTTP/1.1 101 OK\r\nbad name: x\r\n\r\n')).kind).toBe('error');
    expect(new HttpHeadReader().push(Buffer.from('HTTP/1.1 101 OK\r\n: empty name\r\n\r\n')).kind).toBe('error');
  });
});

describe('parseHead and splitList', () => {
  test('only spaces and tabs around a value are optional whitespace (RFC 7230 §3.2.4)', () => {
    const read = (bytes: Buffer): HttpHead => {
      const result = new HttpHeadReader().push(bytes);
      if (result.kind !== 'head') throw new Error(`expected a head, got ${result.kind}`);
      return result.head;
    };
    const lines = (upgrade: Buffer): Buffer =>
      Buffer.concat([Buffer.from('HTTP/1.1 101 OK\r\nUpgrade:'), upgrade, Buffer.from(`\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`)]);
    expect(read(lines(Buffer.from(' \t websocket\t '))).headers.get('upgrade')).toBe('websocket');
    expect(typeof validateServerResponse(read(lines(Buffer.from('\twebsocket\t'))), KEY, [])).toBe('object');
    // A no-break space (0xA0), vertical tab or form feed is part of the value, so it no longer matches.
    for (const odd of [[0xa0], [0x0b], [0x0c]]) {
      const bytes = lines(Buffer.concat([Buffer.from(' websocket'), Buffer.from(odd)]));
      expect(validateServerResponse(read(bytes), KEY, [])).toMatch(/Upgrade/);
    }
  });

  test('names are lower-cased, values trimmed, repeated headers joined with ", "', () => {
    const h = head('HTTP/1.1 101 X', 'Connection:  keep-alive ', 'CONNECTION:Upgrade', 'X-Empty:');
    expect(h.headers.get('connection')).toBe('keep-alive, Upgrade');
    expect(h.headers.get('x-empty')).toBe('');
    expect(splitList(h.headers.get('connection'))).toEqual(['keep-alive', 'Upgrade']);
    expect(splitList(' a ,, b,')).toEqual(['a', 'b']);
    expect(splitList(undefined)).toEqual([]);
  });
});

describe('validateServerResponse', () => {
  test('a valid response, without and with a subprotocol', () => {
    expect(validateServerResponse(response(), KEY, [])).toEqual({ protocol: '', extensions: '', deflate: null });
    expect(validateServerResponse(response({ 'Sec-WebSocket-Protocol': 'superchat' }), KEY, ['chat', 'superchat'])).toEqual({
      protocol: 'superchat',
      extensions: '',
      deflate: null,
    });
    // Offering permessage-deflate does not oblige the server to take it.
    expect(validateServerResponse(response(), KEY, [], true)).toEqual({ protocol: '', extensions: '', deflate: null });
  });

  test('Upgrade and Connection compare without case; Connection is a token list', () => {
    for (const upgrade of ['websocket', 'WebSocket', 'WEBSOCKET']) {
      expect(typeof validateServerResponse(response({ Upgrade: upgrade }), KEY, [])).toBe('object');
    }
    for (const connection of ['upgrade', 'UPGRADE', 'keep-alive, Upgrade', 'Upgrade,keep-alive', 'foo ,  uPgRaDe  , bar']) {
      expect({ connection, ok: typeof validateServerResponse(response({ Connection: connection }), KEY, []) }).toEqual({
        connection,
        ok: 'object',
      });
    }
    // The token may also come in a second Connection header line.
    const twoLines = head('HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: keep-alive', 'Connection: upgrade', `Sec-WebSocket-Accept: ${ACCEPT}`);
    expect(typeof validateServerResponse(twoLines, KEY, [])).toBe('object');
  });

  test.each([
    ['HTTP/1.1 200 OK', /101.*200/],
    ['HTTP/1.1 302 Found', /101.*302/],
    ['HTTP/1.0 404 Not Found', /404/],
    ['HTTP/1.1 100 Continue', /100/],
    ['HTTP/2 101', /status line/],
    ['HTTP/1.1 101', null],
    ['nonsense', /status line/],
  ])('status line %j', (status, message) => {
    const result = validateServerResponse(response({}, status), KEY, []);
    if (message === null) expect(typeof result).toBe('object');
    else expect(result).toMatch(message);
  });

  test.each([
    ['missing Upgrade', { Upgrade: null }, /Upgrade/],
    ['Upgrade: h2c', { Upgrade: 'h2c' }, /Upgrade/],
    ['Upgrade: websocket2', { Upgrade: 'websocket2' }, /Upgrade/],
    ['missing Connection', { Connection: null }, /Connection/],
    ['Connection: keep-alive', { Connection: 'keep-alive' }, /Connection/],
    ['Connection: upgraded (not the token)', { Connection: 'upgraded' }, /Connection/],
    ['Connection: "upgrade" inside another token', { Connection: 'no-upgrade' }, /Connection/],
    ['missing Sec-WebSocket-Accept', { 'Sec-WebSocket-Accept': null }, /missing Sec-WebSocket-Accept/],
    ['wrong Sec-WebSocket-Accept', { 'Sec-WebSocket-Accept': acceptKeyFor('AAAAAAAAAAAAAAAAAAAAAA==') }, /does not match/],
    ['Sec-WebSocket-Accept in another case', { 'Sec-WebSocket-Accept': ACCEPT.toLowerCase() }, /does not match/],
    ['an extension that was not offered', { 'Sec-WebSocket-Extensions': 'permessage-deflate' }, /extension "permessage-deflate", which was not offered/],
    ['a subprotocol when none was offered', { 'Sec-WebSocket-Protocol': 'chat' }, /not offered/],
  ])('%s fails', (_name, overrides, message) => {
    expect(validateServerResponse(response(overrides), KEY, [])).toMatch(message);
  });

  test('a subprotocol that was not offered fails, also one differing only in case or a list of offered ones', () => {
    const offered = ['chat', 'superchat'];
    expect(validateServerResponse(response({ 'Sec-WebSocket-Protocol': 'other' }), KEY, offered)).toMatch(/"other".*not offered/);
    expect(validateServerResponse(response({ 'Sec-WebSocket-Protocol': 'Chat' }), KEY, offered)).toMatch(/not offered/);
    expect(validateServerResponse(response({ 'Sec-WebSocket-Protocol': 'chat, superchat' }), KEY, offered)).toMatch(/not offered/);
  });

  test('no subprotocol chosen when some were offered fails', () => {
    expect(validateServerResponse(response(), KEY, ['chat'])).toMatch(/none of the offered/);
    expect(validateServerResponse(response({ 'Sec-WebSocket-Protocol': '' }), KEY, ['chat'])).toMatch(/none of the offered/);
  });
});

describe('validateClientRequest and buildServerResponse', () => {
  const request = (overrides: Record<string, string | null> = {}, line = 'GET /path?q HTTP/1.1'): HttpHead => {
    const base: Record<string, string | null> = {
      Host: 'example.com',
      Upgrade: 'websocket',
      Connection: 'keep-alive, Upgrade',
      'Sec-WebSocket-Key': KEY,
      'Sec-WebSocket-Version': '13',
      ...overrides,
    };
    return head(line, ...Object.entries(base).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${v}`));
  };

  test('a valid request gives its resource, key and protocols', () => {
    const result = validateClientRequest(request({ 'Sec-WebSocket-Protocol': 'chat, superchat' }));
    if (typeof result === 'string') throw new Error(result);
    expect(result.resource).toBe('/path?q');
    expect(result.key).toBe(KEY);
    expect(result.protocols).toEqual(['chat', 'superchat']);
    expect(result.headers.get('host')).toBe('example.com');
    expect(validateClientRequest(request({ Upgrade: 'WebSocket', Connection: 'UPGRADE' }))).toMatchObject({ protocols: [] });
  });

  test.each([
    ['a POST', {}, 'POST / HTTP/1.1', /GET/],
    ['HTTP/1.0', {}, 'GET / HTTP/1.0', /GET/],
    ['missing Host', { Host: null }, undefined, /Host/],
    ['an empty Host', { Host: '' }, undefined, /Host/],
    ['missing Upgrade', { Upgrade: null }, undefined, /Upgrade/],
    ['Connection without upgrade', { Connection: 'keep-alive' }, undefined, /Connection/],
    ['version 8', { 'Sec-WebSocket-Version': '8' }, undefined, /Version: 13/],
    ['missing version', { 'Sec-WebSocket-Version': null }, undefined, /Version: 13/],
    ['missing key', { 'Sec-WebSocket-Key': null }, undefined, /Key/],
    ['a key of 15 bytes', { 'Sec-WebSocket-Key': Buffer.alloc(15).toString('base64') }, undefined, /Key/],
    ['a key of 17 bytes', { 'Sec-WebSocket-Key': Buffer.alloc(17).toString('base64') }, undefined, /Key/],
  ])('%s fails', (_name, overrides, line, message) => {
    expect(validateClientRequest(request(overrides, line))).toMatch(message);
  });

  test('buildServerResponse answers the key, names the protocol, and satisfies validateServerResponse', () => {
    expect(buildServerResponse(KEY)).toBe(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' + `Sec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`,
    );
    const text = buildServerResponse(KEY, 'chat', [['X-Extra', '1']]);
    expect(text).toContain('\r\nSec-WebSocket-Protocol: chat\r\n');
    expect(text.endsWith('X-Extra: 1\r\n\r\n')).toBe(true);
    const result = new HttpHeadReader().push(Buffer.from(text));
    if (result.kind !== 'head') throw new Error(`expected a head, got ${result.kind}`);
    expect(validateServerResponse(result.head, KEY, ['chat'])).toEqual({ protocol: 'chat', extensions: '', deflate: null });
  });
});

describe('validateServerResponse with permessage-deflate offered', () => {
  test('an accepted offer: extensions is the header as sent, deflate the agreed parameters', () => {
    const value = 'permessage-deflate; server_no_context_takeover; client_max_window_bits=10';
    expect(validateServerResponse(response({ 'Sec-WebSocket-Extensions': value }), KEY, [], true)).toEqual({
      protocol: '',
      extensions: value,
      deflate: { serverNoContextTakeover: true, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 10 },
    });
  });

  test('a response that breaks RFC 7692 fails the handshake with the rule in the message', () => {
    expect(validateServerResponse(response({ 'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits=16' }), KEY, [], true)).toMatch(
      /server_max_window_bits=16 is invalid/,
    );
    expect(validateServerResponse(response({ 'Sec-WebSocket-Extensions': 'x-webkit-deflate-frame' }), KEY, [], true)).toMatch(/"x-webkit-deflate-frame", which was not offered/);
  });
});
