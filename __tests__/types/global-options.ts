// Every key of the options dictionary on the global constructor, as `import 'polyfill'` users
// write it, where @types/node types the global (undici's type, whose dictionary index.d.ts
// extends; ours with @types/node 18). Compiled in the setups without lib.dom; never run.
import * as tls from 'node:tls';
import 'polyfill';

export function connect(url: string): WebSocket[] {
  const sockets = [
    new WebSocket(url, {
      protocols: ['chat.v2', 'chat.v1'],
      headers: { Authorization: 'Bearer t', 'X-Trace': '1' },
      tls: {
        ca: [Buffer.from('-----BEGIN CERTIFICATE-----')],
        cert: '-----BEGIN CERTIFICATE-----',
        key: '-----BEGIN PRIVATE KEY-----',
        pfx: Buffer.alloc(0),
        passphrase: 'secret',
        servername: 'example.com',
        rejectUnauthorized: true,
        checkServerIdentity: tls.checkServerIdentity,
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.3',
        ciphers: 'TLS_AES_128_GCM_SHA256',
        ecdhCurve: 'auto',
        secureContext: tls.createSecureContext({}),
      },
      proxy: { url: 'https://proxy.example', headers: [['Proxy-Authorization', 'Basic dXNlcjpwYXNz']], tls: { ca: 'x' } },
      handshakeTimeout: 5_000,
      maxPayload: 1024 * 1024,
      perMessageDeflate: { threshold: 1024 },
      heartbeat: { interval: 30_000, timeout: 10_000 },
      parallelConnect: true,
    }),
    new WebSocket(url, { socketPath: '/run/app.sock', proxy: null, perMessageDeflate: false, heartbeat: { interval: 1000 } }),
    new WebSocket(url, { proxy: new URL('http://proxy.example:3128'), protocols: 'chat' }),
    new WebSocket(url, ['a', 'b']),
  ];

  // @ts-expect-error maxPayload is a number of bytes
  new WebSocket(url, { maxPayload: '1mb' });
  // @ts-expect-error heartbeat needs its interval
  new WebSocket(url, { heartbeat: { timeout: 1000 } });
  // @ts-expect-error a proxy is a URL, a URL string, { url, ... } or null
  new WebSocket(url, { proxy: 3128 });
  // @ts-expect-error tls takes tls.connect's types (ca is not a number)
  new WebSocket(url, { tls: { ca: 1 } });
  // @ts-expect-error socketPath is a path
  new WebSocket(url, { socketPath: true });

  return sockets;
}
