/**
 * HTTP proxies, the pure half: which proxy a connection goes through (the `proxy` option, or
 * the environment the way Node reads it), the CONNECT request, and the reading of its answer.
 * The dial (transport.ts) does the I/O.
 * @see RFC 9110 §9.3.6 (CONNECT), https://nodejs.org/api/http.html#built-in-proxy-support
 */
import * as net from 'node:net';
import { basicCredentials, type HttpHead } from './handshake';
import type { ProxyConfig } from './options';

/** The process state the environment rules read: `process.env` and `process.execArgv`. @see https://nodejs.org/api/process.html#processexecargv */
export interface ProxyEnvironment {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly execArgv: readonly string[];
}

/**
 * Whether environment proxies are on, as Node decides it: `--use-env-proxy` or
 * `--no-use-env-proxy` on the command line (which wins over NODE_OPTIONS, where they may be
 * too, the last one of each place counting), else `NODE_USE_ENV_PROXY=1`.
 * @see https://nodejs.org/api/cli.html#--use-env-proxy
 */
export function envProxiesEnabled({ env, execArgv }: ProxyEnvironment): boolean {
  let flag: boolean | undefined;
  const consider = (arg: string): void => {
    if (arg === '--use-env-proxy') flag = true;
    else if (arg === '--no-use-env-proxy') flag = false;
  };
  // Node applies NODE_OPTIONS first and the command line after it.
  for (const arg of (env.NODE_OPTIONS ?? '').split(/\s+/)) consider(arg);
  for (const arg of execArgv) consider(arg);
  return flag ?? env.NODE_USE_ENV_PROXY === '1';
}

/** What the environment says for one URL: no proxy, a proxy, or a variable that cannot be used. @see {@link proxyFromEnvironment} */
export type EnvProxy = { kind: 'none' } | { kind: 'proxy'; proxy: ProxyConfig } | { kind: 'invalid'; reason: string };

const NONE: EnvProxy = { kind: 'none' };

/**
 * The environment's proxy for a `ws:` or `wss:` URL, when environment proxies are on: `ws:` uses
 * `http_proxy`, else `HTTP_PROXY`; `wss:` uses `https_proxy`, else `HTTPS_PROXY` (the lower-case
 * name wins, as in Node and curl). A URL that `no_proxy` (else `NO_PROXY`) exempts goes direct.
 * A value that is not an http: or https: URL is ignored, as Node ignores it; one that does not
 * parse as a URL is reported, so that traffic meant for a proxy never silently goes direct.
 * @see https://nodejs.org/api/http.html#built-in-proxy-support
 */
export function proxyFromEnvironment(url: URL, environment: ProxyEnvironment): EnvProxy {
  if (!envProxiesEnabled(environment)) return NONE;
  const { env } = environment;
  const secure = url.protocol === 'wss:';
  const name = secure ? (env.https_proxy ? 'https_proxy' : 'HTTPS_PROXY') : env.http_proxy ? 'http_proxy' : 'HTTP_PROXY';
  const value = env[name];
  if (!value) return NONE;
  if (!/^https?:\/\//i.test(value)) return NONE;
  const noProxy = env.no_proxy || env.NO_PROXY || '';
  if (bypassesProxy(noProxy, url.hostname, effectivePort(url))) return NONE;
  let proxyUrl: URL;
  try {
    proxyUrl = new URL(value);
  } catch {
    return { kind: 'invalid', reason: `the ${name} environment variable ${JSON.stringify(redact(value))} is not a valid proxy URL` };
  }
  return { kind: 'proxy', proxy: Object.freeze({ url: proxyUrl, headers: [], tls: {} }) };
}

/** The port a `ws:`/`wss:` (or `http:`/`https:`) URL connects to. @see https://url.spec.whatwg.org/#default-port */
export function effectivePort(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'wss:' || url.protocol === 'https:' ? 443 : 80;
}

/**
 * Whether a `no_proxy` list exempts `hostname` (as URL gives it: lower case, an IPv6 address in
 * brackets) on `port`. The list is comma-separated, spaces allowed; an entry is `*` (every host),
 * a host or IP, optionally with `:port`, and a name matches itself and its subdomains whether or
 * not it starts with `.` or `*.` (curl's rule, which undici follows; Node's own agents match a
 * name without the dot exactly).
 * @see https://about.gitlab.com/blog/we-need-to-talk-no-proxy/
 */
export function bypassesProxy(noProxy: string, hostname: string, port: number): boolean {
  const host = bare(hostname.toLowerCase());
  for (const raw of noProxy.split(',')) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    const { entryHost, entryPort } = splitEntry(entry);
    if (entryPort !== null && entryPort !== port) continue;
    if (net.isIP(entryHost) !== 0 || net.isIP(host) !== 0) {
      if (entryHost === host) return true;
      continue;
    }
    const name = entryHost.replace(/^\*?\./, '');
    if (name !== '' && (host === name || host.endsWith(`.${name}`))) return true;
  }
  return false;
}

/** An entry's host (without brackets) and port, if it names one. */
function splitEntry(entry: string): { entryHost: string; entryPort: number | null } {
  // [v6]:port or [v6]
  const bracketed = /^\[([^\]]*)\](?::(\d+))?$/.exec(entry);
  if (bracketed !== null) return { entryHost: bracketed[1], entryPort: bracketed[2] === undefined ? null : Number(bracketed[2]) };
  // A bare IPv6 address has colons of its own and no port.
  if (net.isIPv6(entry)) return { entryHost: entry, entryPort: null };
  const withPort = /^(.*):(\d+)$/.exec(entry);
  if (withPort !== null) return { entryHost: withPort[1], entryPort: Number(withPort[2]) };
  return { entryHost: entry, entryPort: null };
}

/** A host name without the brackets URL puts around an IPv6 address. */
function bare(hostname: string): string {
  return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
}

/** A proxy URL for messages: scheme, host and port, never its credentials. @see https://url.spec.whatwg.org/#concept-url-host */
export function proxyName(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

// An environment value that did not parse: drop anything that looks like userinfo.
function redact(value: string): string {
  return value.replace(/\/\/[^/]*@/, '//[redacted]@');
}

/** The parts of a CONNECT request. @see {@link buildConnectRequest} */
export interface ConnectRequestOptions {
  /** `host:port` of the target, an IPv6 address in brackets (URL.hostname keeps them). */
  authority: string;
  proxy: ProxyConfig;
  /** The handshake's User-Agent, which the proxy sees too (as Chromium sends it). */
  userAgent: string;
  /**
   * A `Proxy-Authorization` value the caller gave among the handshake headers; it is used when
   * the proxy's own headers have none, and wins over the proxy URL's credentials.
   */
  authorization: string | undefined;
}

/**
 * The bytes of `CONNECT host:port HTTP/1.1`: `Host` naming the target, `User-Agent`, then
 * `Proxy-Authorization` (the proxy headers' own, else the one given with the handshake headers,
 * else `Basic` from the proxy URL's percent-decoded userinfo in UTF-8), then the proxy headers.
 * A `User-Agent` among the proxy headers replaces ours in its place.
 * @see RFC 9110 §9.3.6, RFC 9110 §11.7.2 (Proxy-Authorization), RFC 7617 §2
 */
export function buildConnectRequest({ authority, proxy, userAgent, authorization }: ConnectRequestOptions): string {
  let givenAgent: string | null = null;
  let givenAuthorization: string | null = null;
  let rest = '';
  for (const [name, value] of proxy.headers) {
    const lower = name.toLowerCase();
    if (lower === 'user-agent') givenAgent = (givenAgent ?? '') + `${name}: ${value}\r\n`;
    else if (lower === 'proxy-authorization') givenAuthorization = (givenAuthorization ?? '') + `${name}: ${value}\r\n`;
    else rest += `${name}: ${value}\r\n`;
  }
  const { url } = proxy;
  const fromUrl = url.username !== '' || url.password !== '' ? basicCredentials(url) : undefined;
  const credentials = authorization ?? fromUrl;
  return (
    `CONNECT ${authority} HTTP/1.1\r\n` +
    `Host: ${authority}\r\n` +
    (givenAgent ?? `User-Agent: ${userAgent}\r\n`) +
    (givenAuthorization ?? (credentials === undefined ? '' : `Proxy-Authorization: ${credentials}\r\n`)) +
    rest +
    '\r\n'
  );
}

/**
 * The status of a CONNECT response head: `tunnel` for a 2xx (whose bytes after the head are the
 * tunnel's: RFC 9110 says a 2xx answer to CONNECT has no content), `interim` for a 1xx that a
 * final answer follows, else `refused` with the status line's code and reason.
 * @see RFC 9110 §15
 */
export type ConnectStatus =
  | { kind: 'tunnel' }
  | { kind: 'interim' }
  | { kind: 'refused'; status: number; statusText: string }
  | { kind: 'invalid'; startLine: string };

/** Reads a CONNECT response's start line. @see RFC 9112 §4 */
export function connectStatus(head: HttpHead): ConnectStatus {
  const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(head.startLine);
  if (match === null) return { kind: 'invalid', startLine: head.startLine.slice(0, 64) };
  const status = Number(match[1]);
  if (status >= 200 && status < 300) return { kind: 'tunnel' };
  // 101 answers an Upgrade, which a CONNECT never asks for.
  if (status >= 100 && status < 200 && status !== 101) return { kind: 'interim' };
  return { kind: 'refused', status, statusText: (match[2] ?? '').trim() };
}
