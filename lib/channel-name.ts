/**
 * The names of the `node:diagnostics_channel` channels, apart from the channels themselves so
 * that the browser entry can export them without importing anything from Node.
 * @see the README's "Diagnostics"
 */

/** Channel names, also listed in the README. @see https://nodejs.org/api/diagnostics_channel.html */
export const ChannelName = {
  open: 'polyfill:websocket:open',
  fail: 'polyfill:websocket:fail',
  close: 'polyfill:websocket:close',
  handshake: 'polyfill:websocket:handshake',
  ping: 'polyfill:websocket:ping',
  pong: 'polyfill:websocket:pong',
} as const;
