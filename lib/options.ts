/**
 * The per-socket options record every connection is made from: the Standard's protocols plus
 * the Node-side keys of a `WebSocketInit` dictionary, validated once and frozen. The constructor
 * converts its second argument with {@link toConnectOptions}; everything below reads the record.
 * @see https://webidl.spec.whatwg.org/#es-dictionary
 */
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { settings } from './settings';

/** An explicit proxy: where to connect, and what to add to the CONNECT request. */
export interface ProxyConfig {
  /** An `http:` or `https:` URL; userinfo becomes `Proxy-Authorization: Basic ...`. */
  readonly url: URL;
  /** Extra CONNECT request headers, validated. */
  readonly headers: readonly (readonly [string, string])[];
  /** `tls.connect` options for an `https:` proxy. */
  readonly tls: TlsConnectionOptions;
}

/** Dead-peer detection. @see the README's "Node options" */
export interface HeartbeatConfig {
  /** ms without anything received before we send a Ping. */
  readonly interval: number;
  /** ms after that Ping without anything received before the connection is failed. */
  readonly timeout: number;
}

/** permessage-deflate as configured for one socket; `false` offers nothing. @see RFC 7692 */
export type DeflateConfig = false | { readonly threshold: number };

/** Everything a {@link Connection} is made from. */
export interface ConnectOptions {
  /** Subprotocols to offer, already validated (tokens, no duplicates). */
  readonly protocols: readonly string[];
  /** Extra request headers in the order given, validated; names keep the user's case. */
  readonly headers: readonly (readonly [string, string])[];
  /** Extra `tls.connect` options for `wss:`. */
  readonly tls: TlsConnectionOptions;
  /** `undefined`: from the environment (if enabled); `null`: none; else the proxy to use. */
  readonly proxy: ProxyConfig | null | undefined;
  /** ms from the constructor until the 101 has been validated. */
  readonly handshakeTimeout: number;
  /** Largest incoming message in bytes, after inflation. */
  readonly maxPayload: number;
  readonly perMessageDeflate: DeflateConfig;
  readonly heartbeat: HeartbeatConfig | null;
  /** A Unix domain socket to connect to instead of host:port. */
  readonly socketPath: string | null;
  /** Skip RFC 6455 §4.1's per-address queue. */
  readonly parallelConnect: boolean;
}

/** The options of a socket made with protocols only: the process-wide defaults. */
export function defaultConnectOptions(protocols: readonly string[]): ConnectOptions {
  return Object.freeze({
    protocols,
    headers: [],
    tls: settings.tls,
    proxy: undefined,
    handshakeTimeout: settings.handshakeTimeoutMs,
    maxPayload: settings.maxMessageSize,
    perMessageDeflate: { threshold: 0 },
    heartbeat: settings.heartbeat,
    socketPath: null,
    parallelConnect: false,
  });
}
