/**
 * The main entry (`polyfill`): installs `WebSocket`, `CloseEvent`, `WebSocketStream` and
 * `WebSocketError` on globalThis, then exports them. Also replaces a native WebSocket (Node 22+),
 * so behaviour is the same on every version.
 * @see https://webidl.spec.whatwg.org/#es-interface-call (interface objects' property attributes)
 */
import { CloseEvent, WebSocket, WebSocketError, WebSocketStream } from './ponyfill';

/**
 * Defines `name` on globalThis the way WebIDL defines an interface object: writable,
 * configurable, not enumerable. Running it twice is harmless: the second run redefines the same
 * value.
 */
function install(name: string, value: unknown): void {
  Object.defineProperty(globalThis, name, { value, writable: true, enumerable: false, configurable: true });
}

install('WebSocket', WebSocket);
install('CloseEvent', CloseEvent);
// Chromium ships both since version 124; Node has neither as a global.
install('WebSocketStream', WebSocketStream);
install('WebSocketError', WebSocketError);

export * from './ponyfill';
