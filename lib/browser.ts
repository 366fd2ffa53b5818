/**
 * The entry for runtimes that have a WebSocket of their own (the `browser`, `worker`, `workerd`,
 * `edge-light`, `deno` and `react-native` export conditions): it imports nothing from Node,
 * installs nothing, and exports the platform's own classes under our names, so that
 * `import { WebSocket } from 'polyfill'` is the same line in shared code on every runtime.
 * A class the platform lacks (CloseEvent in React Native, WebSocketStream outside Chromium and
 * Deno) is exported as `undefined`: feature-test it as on the global.
 * @see https://websockets.spec.whatwg.org/#the-websocket-interface
 */
export { ChannelName } from './channel-name';

/** The globals this entry reads; typed loosely, since which of them exist depends on the platform. */
const platform = globalThis as unknown as Record<'WebSocket' | 'CloseEvent' | 'WebSocketStream' | 'WebSocketError', unknown>;

// Read once, when the entry loads, as a bundler's inlined import would be: replacing the global
// later does not change what was imported.

/** The platform's own WebSocket. @see https://websockets.spec.whatwg.org/#the-websocket-interface */
export const WebSocket = platform.WebSocket;
/** The platform's own CloseEvent, or undefined. @see https://websockets.spec.whatwg.org/#the-closeevent-interface */
export const CloseEvent = platform.CloseEvent;
/** The platform's own WebSocketStream, or undefined. @see https://whatpr.org/websockets/48.html#the-websocketstream-interface */
export const WebSocketStream = platform.WebSocketStream;
/** The platform's own WebSocketError, or undefined. @see https://whatpr.org/websockets/48.html#the-websocketerror-interface */
export const WebSocketError = platform.WebSocketError;

/**
 * Throws a "NotSupportedError" DOMException: a platform WebSocket gives scripts no way to send a
 * Ping frame (browsers answer the server's Pings themselves), so `ping()` needs the Node client.
 * Thrown synchronously, as the Node `ping()` throws for arguments it cannot take.
 * @see RFC 6455 §5.5.2
 */
export function ping(_ws?: unknown, _data?: unknown): Promise<number> {
  throw new DOMException(
    "ping() needs the Node.js client of 'polyfill': this runtime's own WebSocket cannot send a Ping frame " +
      '(browsers answer Pings by themselves); keep ping() behind a check for Node, e.g. typeof process !== "undefined"',
    'NotSupportedError',
  );
}
