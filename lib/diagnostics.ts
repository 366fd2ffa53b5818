/**
 * Diagnostics published on `node:diagnostics_channel`. The Standard forbids telling scripts why a
 * connection failed (its warning about probing local networks), so `error` events carry nothing;
 * the causes are published here for whoever subscribes.
 * @see https://websockets.spec.whatwg.org/#feedback-from-the-protocol (the warning)
 */
import * as dc from 'node:diagnostics_channel';
import { ChannelName } from './channel-name';

export { ChannelName };

export const channels = {
  /** `{ websocket, url, protocol, extensions }` when the connection is established. */
  open: dc.channel(ChannelName.open),
  /**
   * `{ websocket, url, reason, error? }` when the connection is failed: the cause, in words and
   * as an Error when there is one. Also when the socket errs after open (a reset), which the
   * page sees only as close 1006 without an error event.
   */
  fail: dc.channel(ChannelName.fail),
  /** `{ websocket, url, wasClean, code, reason }` when the connection is closed. */
  close: dc.channel(ChannelName.close),
  /**
   * `{ websocket, url, status, headers }` for every handshake response head read, 101 or not
   * (headers by lower-case name, repeats joined with ", "), so a refusal's status can be seen.
   */
  handshake: dc.channel(ChannelName.handshake),
  /** `{ websocket, url, data }` for every Ping received; `data` is a copy of its payload. */
  ping: dc.channel(ChannelName.ping),
  /** `{ websocket, url, data }` for every Pong received, answering or not; `data` as for ping. */
  pong: dc.channel(ChannelName.pong),
};
