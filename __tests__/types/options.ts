// Every key of the options dictionary, on the classes both entries export. Compiled in every
// setup of the matrix (with and without lib.dom); never run.
import * as tls from 'node:tls';
import { WebSocket as InstalledWebSocket, type WebSocketInit } from 'polyfill';
import {
  WebSocket,
  type WebSocketHeadersInit,
  type WebSocketHeartbeatInit,
  type WebSocketPerMessageDeflateInit,
  type WebSocketProxyInit,
  type WebSocketTlsInit,
} from 'polyfill/ponyfill';

export function connect(url: string): WebSocket[] {
  const tlsInit: WebSocketTlsInit = {
    ca: [Buffer.from('-----BEGIN CERTIFICATE-----'), '-----BEGIN CERTIFICATE-----'],
    cert: '-----BEGIN CERTIFICATE-----',
    key: [{ pem: '-----BEGIN PRIVATE KEY-----', passphrase: 'secret' }],
    pfx: Buffer.alloc(0),
    passphrase: 'secret',
    servername: 'example.com',
    rejectUnauthorized: false,
    checkServerIdentity: (host, certificate) => tls.checkServerIdentity(host, certificate),
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: 'TLS_AES_128_GCM_SHA256',
    ecdhCurve: 'auto',
    secureContext: tls.createSecureContext({}),
  };
  const proxy: WebSocketProxyInit = {
    url: new URL('http://user:pass@proxy.example:3128'),
    headers: [['Proxy-Authorization', 'Basic dXNlcjpwYXNz']],
    tls: { ca: '-----BEGIN CERTIFICATE-----' },
  };
  const heartbeat: WebSocketHeartbeatInit = { interval: 30_000, timeout: 10_000 };
  const perMessageDeflate: WebSocketPerMessageDeflateInit = { threshold: 1024 };
  const pairs: WebSocketHeadersInit = [['X-Api-Key', 'k'], ['Cookie', 'a=b']];
  const init: WebSocketInit = {
    protocols: ['chat.v2', 'chat.v1'],
    headers: { Authorization: 'Bearer t', 'X-Trace': '1' },
    tls: tlsInit,
    proxy,
    handshakeTimeout: 5_000,
    maxPayload: 1024 * 1024,
    perMessageDeflate,
    heartbeat,
    parallelConnect: true,
  };
  const sockets = [
    new WebSocket(url, init),
    new InstalledWebSocket(url, init),
    new WebSocket(url, { protocols: 'chat', headers: pairs, proxy: 'http://proxy.example:3128' }),
    new WebSocket(url, { protocols: new Set(['a']), proxy: new URL('https://proxy.example'), perMessageDeflate: false }),
    new WebSocket(url, { socketPath: '/run/app.sock', proxy: null, heartbeat: { interval: 1000 }, perMessageDeflate: true }),
    // A key set to undefined is absent; null as the second argument is the protocol "null".
    new WebSocket(url, { maxPayload: undefined, tls: undefined }),
    new WebSocket(url, null),
    new WebSocket(url, undefined),
  ];

  // @ts-expect-error dispatcher is undici's option, and throws
  new WebSocket(url, { dispatcher: {} });
  // @ts-expect-error maxPayload is a number of bytes
  new WebSocket(url, { maxPayload: '1mb' });
  // @ts-expect-error heartbeat needs its interval
  new WebSocket(url, { heartbeat: { timeout: 1000 } });
  // @ts-expect-error a proxy is a URL, a URL string, { url, ... } or null
  new InstalledWebSocket(url, { proxy: 3128 });
  // @ts-expect-error tls takes tls.connect's types (ca is not a number)
  new WebSocket(url, { tls: { ca: 1 } });
  // @ts-expect-error header pairs are [name, value]
  new WebSocket(url, { headers: [['X-Only-A-Name']] });
  // @ts-expect-error header values are strings
  new WebSocket(url, { headers: { 'X-Count': 1 } });
  // @ts-expect-error a misspelt key is flagged (at run time it would be ignored)
  new WebSocket(url, { maxPayLoad: 1 });
  // @ts-expect-error socketPath is a path
  new WebSocket(url, { socketPath: true });

  return sockets;
}
