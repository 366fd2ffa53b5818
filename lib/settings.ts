/**
 * Process-wide knobs of the client, read when a connection starts; the per-socket options of a
 * WebSocketInit override the ones they name. Not part of the public API: tests use them to
 * shorten timeouts and to trust a test CA.
 */
import type { ConnectionOptions } from 'node:tls';
import { Defaults } from './constants';

export const settings = {
  /** Time from the constructor until the handshake response has been validated. */
  handshakeTimeoutMs: 30_000,
  /** Time, after our Close frame, for the server's Close frame (Chromium's kClosingHandshakeTimeoutSeconds). */
  closeTimeoutMs: 60_000,
  /** Time, once both Close frames are exchanged, for the server to close TCP (Chromium's kUnderlyingConnectionCloseTimeoutSeconds). */
  closeLingerMs: 2_000,
  /** Largest incoming message; a larger one fails the connection with 1009. */
  maxMessageSize: Defaults.maxMessageSize as number,
  /** Largest handshake response head. */
  maxHandshakeHeadSize: Defaults.maxHandshakeHeadSize as number,
  /** Idle time before TCP keep-alive probes start (Chromium uses 45 s). 0 turns them off. */
  keepAliveMs: 45_000,
  /** Extra options for `tls.connect` (for example `ca`). Verification cannot be turned off here by accident: it is on unless `rejectUnauthorized: false` is given. */
  tls: {} as ConnectionOptions,
  /**
   * permessage-deflate: a connection's zlib streams are freed after this long (up to twice it)
   * without a compressed message either way; its context carries over to the next ones.
   */
  deflateIdleMs: 1_000,
  /** Dead-peer detection for sockets whose options do not set `heartbeat`; null (off) by default, as browsers send no Pings. */
  heartbeat: null as { readonly interval: number; readonly timeout: number } | null,
};
