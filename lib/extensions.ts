/**
 * Extension negotiation, client side: the `Sec-WebSocket-Extensions` grammar, the
 * permessage-deflate offer, and the validation of the server's answer to it. Pure functions over
 * header values; the compression itself is in deflate.ts.
 * @see RFC 6455 §9.1, RFC 7692 §5, §7.1
 */

/** One element of an extension list: its name, and its parameters in order (`null`: no value). */
export interface ExtensionElement {
  readonly name: string;
  readonly params: readonly (readonly [name: string, value: string | null])[];
}

/** The permessage-deflate parameters both sides agreed on. @see RFC 7692 §7.1 */
export interface DeflateParams {
  /** The server resets its compressor after every message (§7.1.1.1). */
  readonly serverNoContextTakeover: boolean;
  /** We reset our compressor after every message (§7.1.1.2). */
  readonly clientNoContextTakeover: boolean;
  /** The server's LZ77 window, 8–15 bits; 15 when the server named none (§7.1.2.1). */
  readonly serverMaxWindowBits: number;
  /** Our LZ77 window, 8–15 bits; 15 when the server named none (§7.1.2.2). */
  readonly clientMaxWindowBits: number;
}

/**
 * What we offer, byte for byte what Chromium sends: permessage-deflate with our window size left
 * to the server (client_max_window_bits without a value).
 * @see RFC 7692 §7.1.2.2
 */
export const DEFLATE_OFFER = 'permessage-deflate; client_max_window_bits';

/** The extension's registered name. @see RFC 7692 §7 */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';

// RFC 7230 §3.2.6: tchar.
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses a `Sec-WebSocket-Extensions` value: a comma-separated list of extensions, each a token
 * followed by `; param` or `; param=value` (a token or a quoted string whose unescaped text is a
 * token), with optional whitespace around the separators. Empty list elements are skipped, as
 * RFC 7230 §7 asks of a recipient. Returns the elements, or a message naming what is malformed.
 * @see RFC 6455 §9.1
 */
export function parseExtensionList(value: string): ExtensionElement[] | string {
  const out: ExtensionElement[] = [];
  const n = value.length;
  let i = 0;
  const skipSpace = (): void => {
    while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && TCHAR.test(value[i])) i++;
    return value.slice(start, i);
  };
  const malformed = (expected: string): string =>
    `malformed Sec-WebSocket-Extensions ${JSON.stringify(value.slice(0, 128))}: expected ${expected} at offset ${i}` +
    (i < n ? `, got ${JSON.stringify(value[i])}` : ', got the end');
  for (;;) {
    skipSpace();
    if (i === n) return out;
    if (value[i] === ',') {
      i++;
      continue;
    }
    const name = token();
    if (name === '') return malformed('an extension name (a token)');
    const params: [string, string | null][] = [];
    for (;;) {
      skipSpace();
      if (value[i] !== ';') break;
      i++;
      skipSpace();
      const param = token();
      if (param === '') return malformed('a parameter name (a token)');
      skipSpace();
      if (value[i] !== '=') {
        params.push([param, null]);
        continue;
      }
      i++;
      skipSpace();
      let text: string;
      if (value[i] === '"') {
        // RFC 7230 §3.2.6: a quoted-string, where "\" escapes the character after it.
        i++;
        text = '';
        for (;;) {
          if (i === n) return malformed('the closing \'"\' of a quoted value');
          const c = value[i++];
          if (c === '"') break;
          if (c === '\\') {
            if (i === n) return malformed('a character after "\\"');
            text += value[i++];
          } else {
            text += c;
          }
        }
        // RFC 6455 §9.1: the unescaped text of a quoted value must still be a token.
        if (text === '' || !Array.prototype.every.call(text, (c: string) => TCHAR.test(c))) {
          return `malformed Sec-WebSocket-Extensions ${JSON.stringify(value.slice(0, 128))}: the quoted value of "${param}" is not a token`;
        }
      } else {
        text = token();
        if (text === '') return malformed(`a value for "${param}" (a token or a quoted string)`);
      }
      params.push([param, text]);
    }
    out.push({ name, params });
    skipSpace();
    if (i === n) return out;
    if (value[i] !== ',') return malformed('";", "," or the end');
    i++;
  }
}

/** What the client learns about extensions from a valid response. */
export interface ExtensionsOutcome {
  /** The `extensions` attribute: the header's value as the server sent it ('' for none). */
  readonly extensions: string;
  /** The agreed permessage-deflate parameters, or null if it is not in use. */
  readonly deflate: DeflateParams | null;
}

const NO_EXTENSIONS: ExtensionsOutcome = Object.freeze({ extensions: '', deflate: null });

/**
 * Validates the server's `Sec-WebSocket-Extensions` (undefined if absent) against what we
 * offered: only permessage-deflate, once, and only if `offeredDeflate`. Returns the outcome, or
 * a message naming the rule the response broke (the handshake then fails).
 * @see RFC 6455 §4.1 (the client's step 5), RFC 7692 §5.1, §7.1
 */
export function acceptExtensions(value: string | undefined, offeredDeflate: boolean): ExtensionsOutcome | string {
  if (value === undefined) return NO_EXTENSIONS;
  const list = parseExtensionList(value);
  if (typeof list === 'string') return list;
  if (list.length === 0) return NO_EXTENSIONS;
  let deflate: DeflateParams | null = null;
  for (const element of list) {
    // RFC 6455 §4.1 step 5: an extension that was not offered fails the connection.
    if (element.name !== PERMESSAGE_DEFLATE || !offeredDeflate) {
      return `server chose extension ${JSON.stringify(element.name)}, which was not offered` + (offeredDeflate ? ` (only ${PERMESSAGE_DEFLATE} was)` : ' (none was)');
    }
    // RFC 7692 §5.1: we made one offer, so the server can accept it once.
    if (deflate !== null) return `server accepted ${PERMESSAGE_DEFLATE} twice; it was offered once`;
    const params = acceptDeflateParams(element.params);
    if (typeof params === 'string') return params;
    deflate = params;
  }
  return { extensions: value, deflate };
}

/**
 * The parameters of the server's permessage-deflate element, checked against RFC 7692 §7.1:
 * only the four defined names, each at most once; the two no_context_takeover flags without a
 * value; each max_window_bits with a value of 8 to 15 written without leading zeros.
 * client_max_window_bits may appear because our offer had it, and in a response it must have a
 * value (§7.1.2.2).
 */
function acceptDeflateParams(params: ExtensionElement['params']): DeflateParams | string {
  let serverNoContextTakeover = false;
  let clientNoContextTakeover = false;
  let serverMaxWindowBits = 15;
  let clientMaxWindowBits = 15;
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (seen.has(name)) return `${PERMESSAGE_DEFLATE} parameter "${name}" appears twice in the response (RFC 7692 §7: at most once)`;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== null) return `${PERMESSAGE_DEFLATE} parameter "${name}" takes no value; got "${value}" (RFC 7692 §7.1.1)`;
        if (name === 'server_no_context_takeover') serverNoContextTakeover = true;
        else clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
      case 'client_max_window_bits': {
        if (value === null) {
          return `${PERMESSAGE_DEFLATE} parameter "${name}" needs a value of 8 to 15 in a response (RFC 7692 §7.1.2)`;
        }
        const bits = windowBits(value);
        if (bits === null) return `${PERMESSAGE_DEFLATE} parameter ${name}=${value} is invalid: expected 8 to 15, without leading zeros (RFC 7692 §7.1.2)`;
        if (name === 'server_max_window_bits') serverMaxWindowBits = bits;
        else clientMaxWindowBits = bits;
        break;
      }
      default:
        return `unknown ${PERMESSAGE_DEFLATE} parameter "${name}" in the response (RFC 7692 §7.1 defines four)`;
    }
  }
  return Object.freeze({ serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits });
}

/** A max_window_bits value: 8 to 15 in decimal, no leading zeros; else null. @see RFC 7692 §7.1.2.1 */
function windowBits(value: string): number | null {
  if (!/^(?:[89]|1[0-5])$/.test(value)) return null;
  return Number(value);
}
