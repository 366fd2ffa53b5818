/**
 * The pure half of proxy support: when environment proxies are on, which variable a URL uses,
 * the no_proxy rules, the CONNECT request's bytes, and the reading of the proxy's status line.
 */
import { HttpHeadReader, type HttpHead } from '../../lib/handshake';
import type { ProxyConfig } from '../../lib/options';
import { buildConnectRequest, bypassesProxy, connectStatus, envProxiesEnabled, proxyFromEnvironment, type ProxyEnvironment } from '../../lib/proxy';

const on = (env: Record<string, string>, execArgv: string[] = []): ProxyEnvironment => ({ env: { NODE_USE_ENV_PROXY: '1', ...env }, execArgv });
const proxyOf = (url: string, environment: ProxyEnvironment): string | null => {
  const result = proxyFromEnvironment(new URL(url), environment);
  return result.kind === 'proxy' ? result.proxy.url.href : result.kind === 'invalid' ? `invalid: ${result.reason}` : null;
};
const config = (url: string, headers: [string, string][] = []): ProxyConfig => ({ url: new URL(url), headers, tls: {} });
const head = (text: string): HttpHead => {
  const result = new HttpHeadReader().push(Buffer.from(`${text}\r\n\r\n`, 'latin1'));
  if (result.kind !== 'head') throw new Error('not a head');
  return result.head;
};

describe('envProxiesEnabled', () => {
  test.each<[string, Record<string, string>, string[], boolean]>([
    ['nothing set', {}, [], false],
    ['NODE_USE_ENV_PROXY=1', { NODE_USE_ENV_PROXY: '1' }, [], true],
    ['NODE_USE_ENV_PROXY=0', { NODE_USE_ENV_PROXY: '0' }, [], false],
    ['NODE_USE_ENV_PROXY=true (only 1 counts)', { NODE_USE_ENV_PROXY: 'true' }, [], false],
    ['--use-env-proxy', {}, ['--use-env-proxy'], true],
    ['--use-env-proxy in NODE_OPTIONS', { NODE_OPTIONS: '--max-old-space-size=100  --use-env-proxy' }, [], true],
    ['--no-use-env-proxy over NODE_USE_ENV_PROXY=1', { NODE_USE_ENV_PROXY: '1' }, ['--no-use-env-proxy'], false],
    ['--use-env-proxy over NODE_USE_ENV_PROXY=0', { NODE_USE_ENV_PROXY: '0' }, ['--use-env-proxy'], true],
    ['the command line over NODE_OPTIONS', { NODE_OPTIONS: '--use-env-proxy' }, ['--no-use-env-proxy'], false],
    ['the last flag of the command line', {}, ['--no-use-env-proxy', '--use-env-proxy'], true],
  ])('%s', (_name, env, execArgv, expected) => {
    expect(envProxiesEnabled({ env, execArgv })).toBe(expected);
  });
});

describe('proxyFromEnvironment', () => {
  test('ws: uses http_proxy, else HTTP_PROXY; wss: uses https_proxy, else HTTPS_PROXY', () => {
    const all = on({ http_proxy: 'http://lower-http:1', HTTP_PROXY: 'http://upper-http:2', https_proxy: 'http://lower-https:3', HTTPS_PROXY: 'http://upper-https:4' });
    expect(proxyOf('ws://example.com/', all)).toBe('http://lower-http:1/');
    expect(proxyOf('wss://example.com/', all)).toBe('http://lower-https:3/');
    const upper = on({ HTTP_PROXY: 'http://upper-http:2', HTTPS_PROXY: 'https://upper-https:4' });
    expect(proxyOf('ws://example.com/', upper)).toBe('http://upper-http:2/');
    expect(proxyOf('wss://example.com/', upper)).toBe('https://upper-https:4/');
    // An empty lower-case variable does not hide the upper-case one.
    expect(proxyOf('ws://example.com/', on({ http_proxy: '', HTTP_PROXY: 'http://upper:2' }))).toBe('http://upper:2/');
  });

  test('a wss: URL never uses http_proxy, nor ws: https_proxy', () => {
    expect(proxyOf('wss://example.com/', on({ http_proxy: 'http://p:1' }))).toBeNull();
    expect(proxyOf('ws://example.com/', on({ https_proxy: 'http://p:1' }))).toBeNull();
  });

  test('nothing is used while environment proxies are off', () => {
    expect(proxyOf('ws://example.com/', { env: { http_proxy: 'http://p:1' }, execArgv: [] })).toBeNull();
  });

  test('a value that is not http: or https: is ignored, as Node ignores it; one that does not parse is reported, redacted', () => {
    expect(proxyOf('ws://example.com/', on({ http_proxy: 'socks5://p:1080' }))).toBeNull();
    expect(proxyOf('ws://example.com/', on({ http_proxy: 'p:8080' }))).toBeNull();
    expect(proxyOf('ws://example.com/', on({ http_proxy: 'http://u:secret@[nope' }))).toBe(
      'invalid: the http_proxy environment variable "http://[redacted]@[nope" is not a valid proxy URL',
    );
  });

  test('no_proxy wins over NO_PROXY, and exempts the URL', () => {
    expect(proxyOf('ws://example.com/', on({ http_proxy: 'http://p:1', no_proxy: 'other.example', NO_PROXY: 'example.com' }))).toBe('http://p:1/');
    expect(proxyOf('ws://example.com/', on({ http_proxy: 'http://p:1', NO_PROXY: 'example.com' }))).toBeNull();
  });
});

describe('bypassesProxy', () => {
  test.each<[string, string, number, boolean]>([
    ['*', 'anything.example', 80, true],
    ['', 'example.com', 80, false],
    ['example.com', 'example.com', 80, true],
    ['example.com', 'api.example.com', 443, true],
    ['example.com', 'a.b.example.com', 443, true],
    ['.example.com', 'example.com', 80, true],
    ['.example.com', 'api.example.com', 80, true],
    ['*.example.com', 'api.example.com', 80, true],
    ['example.com', 'notexample.com', 80, false],
    ['example.com', 'example.com.evil', 80, false],
    ['EXAMPLE.com', 'example.com', 80, true],
    [' other.example ,  example.com ', 'example.com', 80, true],
    ['example.com:8080', 'example.com', 8080, true],
    ['example.com:8080', 'example.com', 80, false],
    ['.example.com:443', 'api.example.com', 443, true],
    ['127.0.0.1', '127.0.0.1', 9000, true],
    ['127.0.0.1:9000', '127.0.0.1', 9000, true],
    ['127.0.0.1:9000', '127.0.0.1', 9001, false],
    ['127.0.0.1', '127.0.0.10', 80, false],
    // An IP entry is an address, not a suffix.
    ['0.0.1', '127.0.0.1', 80, false],
    ['::1', '[::1]', 80, true],
    ['[::1]', '[::1]', 80, true],
    ['[::1]:8080', '[::1]', 8080, true],
    ['[::1]:8080', '[::1]', 8081, false],
    ['::2', '[::1]', 80, false],
    [',,', 'example.com', 80, false],
  ])('NO_PROXY=%j for %s port %i: %s', (noProxy, hostname, port, expected) => {
    expect(bypassesProxy(noProxy, hostname, port)).toBe(expected);
  });
});

describe('buildConnectRequest', () => {
  test('the request line and Host name the target; userinfo becomes Basic, percent-decoded as UTF-8', () => {
    const request = buildConnectRequest({ authority: 'example.com:443', proxy: config('http://us%C3%A9r:p%3Ass@proxy:3128'), userAgent: 'node', authorization: undefined });
    expect(request).toBe(
      `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nUser-Agent: node\r\nProxy-Authorization: Basic ${Buffer.from('usér:p:ss').toString('base64')}\r\n\r\n`,
    );
  });

  test('a username alone gives "user:"', () => {
    expect(buildConnectRequest({ authority: 'h:80', proxy: config('http://user@proxy:3128'), userAgent: 'node', authorization: undefined })).toContain(
      `Proxy-Authorization: Basic ${Buffer.from('user:').toString('base64')}\r\n`,
    );
  });

  test('no credentials, no Proxy-Authorization', () => {
    expect(buildConnectRequest({ authority: '[::1]:8080', proxy: config('http://proxy'), userAgent: 'node', authorization: undefined })).toBe(
      'CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\nUser-Agent: node\r\n\r\n',
    );
  });

  test('precedence: the proxy headers, then the handshake headers, then the URL', () => {
    const withHeader = config('http://u:p@proxy', [['X-Tenant', 't'], ['proxy-authorization', 'Bearer a']]);
    expect(buildConnectRequest({ authority: 'h:80', proxy: withHeader, userAgent: 'ua', authorization: 'Bearer b' })).toBe(
      'CONNECT h:80 HTTP/1.1\r\nHost: h:80\r\nUser-Agent: ua\r\nproxy-authorization: Bearer a\r\nX-Tenant: t\r\n\r\n',
    );
    expect(buildConnectRequest({ authority: 'h:80', proxy: config('http://u:p@proxy'), userAgent: 'ua', authorization: 'Bearer b' })).toContain('Proxy-Authorization: Bearer b\r\n');
  });

  test('a User-Agent among the proxy headers replaces ours in its place', () => {
    expect(buildConnectRequest({ authority: 'h:80', proxy: config('http://proxy', [['X-A', '1'], ['User-Agent', 'corp']]), userAgent: 'node', authorization: undefined })).toBe(
      'CONNECT h:80 HTTP/1.1\r\nHost: h:80\r\nUser-Agent: corp\r\nX-A: 1\r\n\r\n',
    );
  });
});

describe('connectStatus', () => {
  test.each<[string, unknown]>([
    ['HTTP/1.1 200 Connection established', { kind: 'tunnel' }],
    ['HTTP/1.0 200', { kind: 'tunnel' }],
    ['HTTP/1.1 204 No Content', { kind: 'tunnel' }],
    ['HTTP/1.1 100 Continue', { kind: 'interim' }],
    ['HTTP/1.1 101 Switching Protocols', { kind: 'refused', status: 101, statusText: 'Switching Protocols' }],
    ['HTTP/1.1 407 Proxy Authentication Required', { kind: 'refused', status: 407, statusText: 'Proxy Authentication Required' }],
    ['HTTP/1.1 502', { kind: 'refused', status: 502, statusText: '' }],
    ['HTTP/2 200', { kind: 'invalid', startLine: 'HTTP/2 200' }],
    ['SSH-2.0-OpenSSH', { kind: 'invalid', startLine: 'SSH-2.0-OpenSSH' }],
  ])('%j', (startLine, expected) => {
    expect(connectStatus(head(startLine))).toEqual(expected);
  });
});
