/**
 * The side-effect-free entry (`polyfill/ponyfill`): the classes and `ping()`, without touching
 * globalThis.
 * @see https://websockets.spec.whatwg.org/#the-websocket-interface
 */
export { WebSocket, type BinaryType } from './websocket';
export { CloseEvent, type CloseEventInit } from './events';
export { WebSocketStream, WebSocketError, type WebSocketOpenInfo, type WebSocketCloseInfo, type WebSocketStreamOptions } from './websocket-stream';
export { ChannelName } from './diagnostics';
export { ping } from './ping';
export type {
  WebSocketHeadersInit,
  WebSocketHeartbeatInit,
  WebSocketInit,
  WebSocketPerMessageDeflateInit,
  WebSocketProxyInit,
  WebSocketTlsInit,
} from './options';
