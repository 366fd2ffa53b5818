/**
 * The constructor steps that WebSocket and WebSocketStream share: parsing the URL and checking
 * the protocols. Each throws the DOMException the Standard names, with a message naming the
 * interface that was being constructed.
 * @see https://websockets.spec.whatwg.org/#dom-websocket-websocket
 */
import { isToken } from './validation';

/**
 * Steps 1-7: parse `urlString` against the API base URL, map http(s): to ws(s):, and refuse other
 * schemes and fragments with a SyntaxError.
 */
export function parseWebSocketURL(urlString: string, interfaceName: string): URL {
  // 1. Let baseURL be this's relevant settings object's API base URL: `location` where a
  //    runtime provides one, otherwise none, so relative URLs fail.
  const base = apiBaseURL();
  // 2-3. Parse url against baseURL; failure throws a SyntaxError.
  let record: URL;
  try {
    record = base === undefined ? new URL(urlString) : new URL(urlString, base);
  } catch {
    throw new DOMException(
      `Failed to construct '${interfaceName}': the URL '${urlString}' is invalid${base === undefined ? ' (relative URLs need a global location to resolve against)' : ''}.`,
      'SyntaxError',
    );
  }
  // 4-5. http: becomes ws:, https: becomes wss:.
  if (record.protocol === 'http:') record.protocol = 'ws:';
  else if (record.protocol === 'https:') record.protocol = 'wss:';
  // 6. Any other scheme than ws: or wss: throws.
  if (record.protocol !== 'ws:' && record.protocol !== 'wss:') {
    throw new DOMException(
      `Failed to construct '${interfaceName}': the URL's scheme must be 'ws', 'wss', 'http' or 'https'; '${record.protocol.slice(0, -1)}' is not allowed.`,
      'SyntaxError',
    );
  }
  // 7. A fragment, even an empty one, throws. It is the only place '#' can appear in href.
  if (record.href.includes('#')) {
    throw new DOMException(
      `Failed to construct '${interfaceName}': the URL contains a fragment identifier ('${record.hash || '#'}'); fragments are not allowed in WebSocket URLs.`,
      'SyntaxError',
    );
  }
  return record;
}

/**
 * Steps 8-9: each protocol must be a token, and none may occur more than once (compared exactly,
 * as the Standard says and Chromium does).
 */
export function checkProtocols(protocols: readonly string[], interfaceName: string): void {
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (!isToken(protocol)) {
      throw new DOMException(
        `Failed to construct '${interfaceName}': the subprotocol '${protocol}' is invalid; it must be a non-empty token of visible ASCII without separators.`,
        'SyntaxError',
      );
    }
    if (seen.has(protocol)) {
      throw new DOMException(`Failed to construct '${interfaceName}': the subprotocol '${protocol}' is duplicated.`, 'SyntaxError');
    }
    seen.add(protocol);
  }
}

/** The API base URL: the href of a global `location` when the runtime has one. */
export function apiBaseURL(): string | undefined {
  const location = (globalThis as { location?: { href?: unknown } }).location;
  return location !== undefined && location !== null && typeof location.href === 'string' ? location.href : undefined;
}
