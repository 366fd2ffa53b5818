/**
 * Dialing: from a URL and its options to a connected duplex that the opening handshake can be
 * written on. It resolves the host, waits its turn in RFC 6455 §4.1's per-address queue, and
 * opens the TCP or TLS socket. A dial reports once, to its {@link DialHandler}; it never throws.
 * @see RFC 6455 §4.1 (steps 1-4 of the client's requirements)
 */
import * as dns from 'node:dns';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { ConnectOptions } from './options';

/** What a dial tells its owner, exactly once. */
export interface DialHandler {
  /** `socket` is connected (and, for `wss:`, its TLS handshake is done). */
  onDialed(socket: net.Socket): void;
  /** No socket could be made; `reason` says why, for the fail diagnostics. */
  onDialFailed(reason: string, error?: unknown): void;
}

type LookupResult = readonly dns.LookupAddress[];

// RFC 6455 §4.1 step 2: at most one connection per remote address in CONNECTING. Each key maps
// to its dials in arrival order; the first one is the one connecting, the rest wait.
const queues = new Map<string, Dial[]>();

/**
 * One attempt to get a connected socket for a WebSocket URL. The queue slot it takes is held
 * until {@link cancel}, which the connection calls when its handshake has ended, so that a 401
 * retry on a second socket ({@link redial}) keeps it.
 */
export class Dial {
  readonly #url: URL;
  readonly #options: ConnectOptions;
  readonly #handler: DialHandler;
  readonly #host: string;
  readonly #port: number;
  #addresses: LookupResult | null = null;
  #queueKey: string | null = null;
  #socket: net.Socket | null = null;
  #done = false; // reported, cancelled or released: nothing more happens

  constructor(url: URL, options: ConnectOptions, handler: DialHandler) {
    this.#url = url;
    this.#options = options;
    this.#handler = handler;
    // URL keeps the brackets of an IPv6 literal in `hostname`; sockets want the bare address.
    this.#host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.#port = url.port === '' ? (url.protocol === 'wss:' ? 443 : 80) : Number(url.port);
    this.#resolve();
  }

  /**
   * Ends the dial wherever it is: leaves the queue (the handshake has ended, or was abandoned),
   * and destroys a socket not yet handed over.
   */
  cancel(): void {
    if (this.#done) return;
    this.#done = true;
    this.#leaveQueue();
    const socket = this.#socket;
    this.#socket = null;
    socket?.destroy();
  }

  /** A second socket to the same address, keeping the queue slot (the 401 retry). */
  redial(): void {
    this.#connect();
  }

  // 1. Resolve the host, so that the queue is keyed by address (two names for one address share
  //    it). An IP literal needs no lookup.
  #resolve(): void {
    if (this.#options.socketPath !== null) {
      // A Unix domain socket has no address to resolve; its path is its queue key.
      this.#join(`unix:${this.#options.socketPath}`);
      return;
    }
    const family = net.isIP(this.#host);
    if (family !== 0) {
      this.#resolved([{ address: this.#host, family }]);
      return;
    }
    dns.lookup(this.#host, { all: true }, (error, addresses) => {
      if (this.#done) return;
      if (error || addresses.length === 0) {
        this.#fail(`could not resolve ${this.#host}: ${error?.message ?? 'no addresses'}`, error);
        return;
      }
      this.#resolved(addresses);
    });
  }

  // 2. Join the queue of the first address (the one tried first); connect when first in line.
  #resolved(addresses: LookupResult): void {
    this.#addresses = addresses;
    const first = addresses[0];
    this.#join(`${first.family === 6 ? `[${first.address}]` : first.address}:${this.#port}`);
  }

  /** Takes a place in the queue for `key`, and connects when it is first (or skips the queue). */
  #join(key: string): void {
    if (this.#options.parallelConnect) {
      this.#connect();
      return;
    }
    this.#queueKey = key;
    const queue = queues.get(key);
    if (queue === undefined) {
      queues.set(key, [this]);
      this.#connect();
    } else {
      queue.push(this);
    }
  }

  #leaveQueue(): void {
    const key = this.#queueKey;
    if (key === null) return;
    this.#queueKey = null;
    const queue = queues.get(key) as Dial[];
    const wasFirst = queue[0] === this;
    queue.splice(queue.indexOf(this), 1);
    if (queue.length === 0) queues.delete(key);
    else if (wasFirst) queue[0].#connect();
  }

  // 3. Open the socket to the resolved addresses (all of them, so that Node's happy eyeballs
  //    can fall back), with TLS for wss:.
  #connect(): void {
    if (this.#done) return;
    const host = this.#host;
    const secure = this.#url.protocol === 'wss:';
    const socketPath = this.#options.socketPath;
    // Where to connect: the Unix socket, or the resolved addresses (all of them, through a
    // lookup that answers from what was resolved).
    let where: net.NetConnectOpts;
    if (socketPath !== null) {
      where = { path: socketPath };
    } else {
      const addresses = this.#addresses as LookupResult;
      const lookup = (_host: string, opts: dns.LookupOptions, callback: (...args: unknown[]) => void): void => {
        if (opts.all) callback(null, addresses);
        else callback(null, addresses[0].address, addresses[0].family);
      };
      where = { host, port: this.#port, lookup: lookup as unknown as net.LookupFunction };
    }
    const socket = secure
      ? tls.connect({
          ...this.#options.tls,
          ...where,
          // SNI carries host names only (RFC 6066 §3); over a Unix socket the URL still names the host.
          servername: this.#options.tls.servername ?? (net.isIP(host) === 0 ? host : undefined),
          ALPNProtocols: ['http/1.1'],
        } as tls.ConnectionOptions)
      : net.connect(where);
    this.#socket = socket;
    const onError = (error: Error): void => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      socket.destroy();
      this.#fail(`connection error: ${error.message}`, error);
    };
    socket.once('error', onError);
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      socket.removeListener('error', onError);
      this.#handler.onDialed(socket);
    });
  }

  #fail(reason: string, error?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#leaveQueue();
    this.#handler.onDialFailed(reason, error);
  }
}
