// The options with lib.dom, where the global WebSocket's constructor is lib.dom's: an anonymous
// type taking protocols only, which no declaration can widen (index.d.ts explains). Code that
// passes options imports the class the global holds. Compiled in the setups with lib.dom; never run.
import { WebSocket as PolyfillWebSocket } from 'polyfill';

export function connect(url: string): WebSocket[] {
  // The imported class takes every option, and its sockets are the global's WebSockets.
  const sockets: WebSocket[] = [
    new PolyfillWebSocket(url, {
      protocols: ['chat'],
      headers: new Headers({ Authorization: 'Bearer t' }),
      tls: { ca: '-----BEGIN CERTIFICATE-----', rejectUnauthorized: true },
      proxy: { url: 'http://proxy.example:3128' },
      handshakeTimeout: 5_000,
      maxPayload: 1024,
      perMessageDeflate: { threshold: 0 },
      heartbeat: { interval: 30_000 },
      parallelConnect: false,
    }),
    new WebSocket(url, ['chat']),
  ];
  // @ts-expect-error lib.dom's global constructor takes protocols only; import the class for options
  new WebSocket(url, { maxPayload: 1024 });
  return sockets;
}
