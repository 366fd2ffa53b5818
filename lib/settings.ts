/**
 * Process-wide knobs of the client. The WHATWG constructor takes no options, so these are the
 * only way to change them; they are read when a connection starts. Not part of the public API:
 * tests use them to shorten timeouts and to trust a test CA.
 */
import type { ConnectionOptions } from 'node:tls';
import { Defaults } from './constants';

export const settings = {
  /** Time from the constructor until the handshake response has been validated. */
  handshakeTimeoutMs: 30_000,
  /** Time, after our Close frame went out, to wait for the peer's Close frame and TCP close. */
  closeTimeoutMs: 30_000,
  /** Largest incoming message; a larger one fails the connection with 1009. */
  maxMessageSize: Defaults.maxMessageSize as number,
  /** Largest handshake response head. */
  maxHandshakeHeadSize: Defaults.maxHandshakeHeadSize as number,
  /** Idle time before TCP keep-alive probes start (Chromium uses 45 s). 0 turns them off. */
  keepAliveMs: 45_000,
  /** Extra options for `tls.connect` (for example `ca`). Verification cannot be turned off here by accident: it is on unless `rejectUnauthorized: false` is given. */
  tls: {} as ConnectionOptions,
};
