// A global Headers as the headers option, on the classes. Compiled in every setup that declares
// a global Headers (all but @types/node 18 without lib.dom); never run.
import { WebSocket } from 'polyfill';

export function connect(url: string): WebSocket {
  const headers = new Headers({ 'X-Api-Key': 'k' });
  headers.append('Cookie', 'a=b');
  return new WebSocket(url, { headers, proxy: { url: 'http://proxy.example:3128', headers: new Headers() } });
}
