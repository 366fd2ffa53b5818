import { acceptExtensions, DEFLATE_OFFER, parseExtensionList } from '../../lib/extensions';

const DEFAULTS = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };

describe('the offer', () => {
  test("is byte for byte Chromium's", () => {
    expect(DEFLATE_OFFER).toBe('permessage-deflate; client_max_window_bits');
    expect(parseExtensionList(DEFLATE_OFFER)).toEqual([{ name: 'permessage-deflate', params: [['client_max_window_bits', null]] }]);
  });
});

describe('parseExtensionList (RFC 6455 §9.1)', () => {
  test.each<[string, unknown]>([
    ['a', [{ name: 'a', params: [] }]],
    ['a; b', [{ name: 'a', params: [['b', null]] }]],
    ['a;b=1;c', [{ name: 'a', params: [['b', '1'], ['c', null]] }]],
    ['a ;\tb = 1 , c', [{ name: 'a', params: [['b', '1']] }, { name: 'c', params: [] }]],
    ['a; b="10"', [{ name: 'a', params: [['b', '10']] }]],
    ['a; b="1\\0"', [{ name: 'a', params: [['b', '10']] }]],
    ['a, , b,', [{ name: 'a', params: [] }, { name: 'b', params: [] }]],
    ['', []],
    [' , ', []],
  ])('%j', (value, expected) => {
    expect(parseExtensionList(value)).toEqual(expected);
  });

  test.each([
    ['; a', /expected an extension name/],
    ['a;', /expected a parameter name/],
    ['a; =1', /expected a parameter name/],
    ['a; b=', /expected a value for "b"/],
    ['a; b=1=2', /expected ";", "," or the end/],
    ['a b', /expected ";", "," or the end/],
    ['a; b="1', /closing '"'/],
    ['a; b="1\\', /a character after/],
    ['a; b=""', /quoted value of "b" is not a token/],
    ['a; b="1 0"', /quoted value of "b" is not a token/],
    ['a; b=1 0', /expected ";", "," or the end/],
    ['ä', /expected an extension name/],
    ['a; b=(1)', /expected a value for "b"/],
  ])('%j is malformed', (value, message) => {
    const result = parseExtensionList(value);
    expect(typeof result).toBe('string');
    expect(result).toMatch(message);
    expect(result).toMatch(/offset \d+|not a token/);
  });
});

describe('acceptExtensions: valid responses (RFC 7692 §7.1)', () => {
  test('no header, an empty one, or empty elements only: no extension in use', () => {
    for (const value of [undefined, '', ' ', ',']) {
      expect(acceptExtensions(value, true)).toEqual({ extensions: '', deflate: null });
      expect(acceptExtensions(value, false)).toEqual({ extensions: '', deflate: null });
    }
  });

  test.each<[string, Partial<typeof DEFAULTS>]>([
    ['permessage-deflate', {}],
    ['permessage-deflate; server_no_context_takeover', { serverNoContextTakeover: true }],
    ['permessage-deflate; client_no_context_takeover', { clientNoContextTakeover: true }],
    ['permessage-deflate; server_no_context_takeover; client_no_context_takeover', { serverNoContextTakeover: true, clientNoContextTakeover: true }],
    ['permessage-deflate; server_max_window_bits=10', { serverMaxWindowBits: 10 }],
    ['permessage-deflate; client_max_window_bits=9', { clientMaxWindowBits: 9 }],
    ['permessage-deflate; client_max_window_bits="12"', { clientMaxWindowBits: 12 }],
    ['permessage-deflate; server_max_window_bits = "8"', { serverMaxWindowBits: 8 }],
    ['permessage-deflate;client_max_window_bits=15;server_max_window_bits=15', {}],
    [
      'permessage-deflate; client_no_context_takeover; server_max_window_bits=11; server_no_context_takeover; client_max_window_bits=13',
      { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 11, clientMaxWindowBits: 13 },
    ],
    ['permessage-deflate, ', {}],
  ])('%j', (value, params) => {
    expect(acceptExtensions(value, true)).toEqual({ extensions: value, deflate: { ...DEFAULTS, ...params } });
  });

  test.each([8, 9, 10, 11, 12, 13, 14, 15])('window bits %i on either side', (bits) => {
    expect(acceptExtensions(`permessage-deflate; server_max_window_bits=${bits}`, true)).toMatchObject({ deflate: { serverMaxWindowBits: bits, clientMaxWindowBits: 15 } });
    expect(acceptExtensions(`permessage-deflate; client_max_window_bits=${bits}`, true)).toMatchObject({ deflate: { serverMaxWindowBits: 15, clientMaxWindowBits: bits } });
  });
});

describe('acceptExtensions: responses that fail the handshake', () => {
  test.each([
    ['an extension we did not offer', 'x-webkit-deflate-frame', /extension "x-webkit-deflate-frame", which was not offered \(only permessage-deflate was\)/],
    ['the name in another case (names compare exactly, as in Chromium)', 'Permessage-Deflate', /"Permessage-Deflate", which was not offered/],
    ['another extension next to ours', 'permessage-deflate, foo', /"foo", which was not offered/],
    ['permessage-deflate accepted twice', 'permessage-deflate, permessage-deflate', /accepted permessage-deflate twice/],
    ['an unknown parameter', 'permessage-deflate; foo', /unknown permessage-deflate parameter "foo"/],
    ['an unknown parameter with a value', 'permessage-deflate; max_window_bits=10', /unknown permessage-deflate parameter "max_window_bits"/],
    ['a duplicated flag', 'permessage-deflate; server_no_context_takeover; server_no_context_takeover', /"server_no_context_takeover" appears twice/],
    ['a duplicated window size', 'permessage-deflate; client_max_window_bits=10; client_max_window_bits=10', /"client_max_window_bits" appears twice/],
    ['a value on server_no_context_takeover', 'permessage-deflate; server_no_context_takeover=1', /"server_no_context_takeover" takes no value; got "1"/],
    ['a quoted value on client_no_context_takeover', 'permessage-deflate; client_no_context_takeover="x"', /"client_no_context_takeover" takes no value/],
    ['server_max_window_bits without a value', 'permessage-deflate; server_max_window_bits', /"server_max_window_bits" needs a value/],
    ['client_max_window_bits without a value (a response must give one)', 'permessage-deflate; client_max_window_bits', /"client_max_window_bits" needs a value/],
    ['server_max_window_bits=7', 'permessage-deflate; server_max_window_bits=7', /server_max_window_bits=7 is invalid: expected 8 to 15/],
    ['server_max_window_bits=16', 'permessage-deflate; server_max_window_bits=16', /server_max_window_bits=16 is invalid/],
    ['client_max_window_bits=0', 'permessage-deflate; client_max_window_bits=0', /client_max_window_bits=0 is invalid/],
    ['a leading zero', 'permessage-deflate; client_max_window_bits=09', /client_max_window_bits=09 is invalid: expected 8 to 15, without leading zeros/],
    ['a leading zero, quoted', 'permessage-deflate; server_max_window_bits="010"', /server_max_window_bits=010 is invalid/],
    ['a sign', 'permessage-deflate; server_max_window_bits=+9', /server_max_window_bits=\+9 is invalid/],
    ['a missing value after "="', 'permessage-deflate; client_max_window_bits=', /malformed Sec-WebSocket-Extensions/],
    ['a malformed header', 'permessage-deflate client_max_window_bits=10', /malformed Sec-WebSocket-Extensions/],
    ['a parameter without an extension', '; server_no_context_takeover', /malformed Sec-WebSocket-Extensions/],
    ['an unterminated quoted value', 'permessage-deflate; server_max_window_bits="10', /malformed Sec-WebSocket-Extensions/],
  ])('%s', (_name, value, message) => {
    expect(acceptExtensions(value, true)).toMatch(message);
  });

  test('any extension, permessage-deflate included, when none was offered', () => {
    expect(acceptExtensions('permessage-deflate', false)).toMatch(/"permessage-deflate", which was not offered \(none was\)/);
  });
});
