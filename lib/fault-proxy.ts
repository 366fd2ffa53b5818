/**
 * A fault-injecting TCP proxy on loopback, for the fault tests and the soak run: it forwards
 * bytes between a client and a server, and on the way re-chunks them, delays and stalls them,
 * resets at a chosen byte offset, or half-closes. Every decision comes from a seeded PRNG, so a
 * failing schedule reproduces from its seed. Not part of the package's public API.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { HttpHeadReader } from './handshake';
import { type MessageDecompressor, type ParserSink, FrameParser } from './parser';

// See Pump#forward.
const RESET_GAP_MS = 20;

/** Which way bytes flow: `up` is client to server, `down` server to client. */
export type Direction = 'up' | 'down';

/** What the proxy does to one connection. Offsets count the bytes of one direction from 0. */
export interface FaultSchedule {
  /** PRNG seed for chunk sizes and delays. */
  seed: number;
  /** Pieces are 1 to `maxChunk` bytes (default: chunks are forwarded as they come). */
  maxChunk?: number;
  /** Each piece waits 0 to `maxDelayMs` ms (default 0: no delay). */
  maxDelayMs?: number;
  /** Once `at` bytes have passed in `direction`, hold the rest for `ms` ms, then go on. */
  stall?: { direction: Direction; at: number; ms: number };
  /**
   * Reset both sockets (RST) once `at` bytes have passed in `direction`. `at: 'after-close'`
   * with `direction: 'down'` resets right after the server's Close frame has been forwarded.
   */
  reset?: { direction: Direction; at: number | 'after-close' };
  /** Half-close (FIN) `direction` once `at` bytes have passed; the other direction goes on. */
  fin?: { direction: Direction; at: number };
  /**
   * HTTP response heads before the frames in the `down` direction (default 1, the 101): 2 when
   * the client talks to a CONNECT proxy through this one (its 200, then the 101).
   */
  heads?: number;
}

/** A small, fast, seedable PRNG (mulberry32): the same seed gives the same sequence everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What happened on one proxied connection, for the test to compare with what the client saw. */
export interface ProxyLog {
  /** Bytes forwarded in each direction so far. */
  readonly forwarded: Record<Direction, number>;
  /** The fault that ended the connection, if one did. */
  fault: 'reset' | 'fin' | null;
  /** Resolves when both sockets are closed. */
  closed: Promise<void>;
}

/**
 * One pump: the pieces of one direction, written in order, each after its delay. Pieces are
 * queued as they arrive, so order holds whatever the delays.
 */
class Pump {
  readonly #from: net.Socket;
  readonly #to: net.Socket;
  readonly #direction: Direction;
  readonly #schedule: FaultSchedule;
  readonly #random: () => number;
  readonly #connection: ProxiedConnection;
  readonly #queue: Buffer[] = [];
  #busy = false;
  #ended = false; // the source sent FIN; forward it once the queue is empty
  #stalled = false;
  passed = 0;
  // Finds the end of the server's Close frame for reset: 'after-close'.
  #closeWatch: FrameParser | null = null;
  #headWatch: HttpHeadReader | null = null; // the 101 (and a CONNECT's 200) come before the frames
  #headsLeft = 1;
  #closeSeen = false;

  constructor(from: net.Socket, to: net.Socket, direction: Direction, schedule: FaultSchedule, connection: ProxiedConnection) {
    this.#from = from;
    this.#to = to;
    this.#direction = direction;
    this.#schedule = schedule;
    this.#random = prng(schedule.seed ^ (direction === 'up' ? 0x9e3779b9 : 0x85ebca6b));
    this.#connection = connection;
    if (schedule.reset?.at === 'after-close' && schedule.reset.direction === direction) {
      const sink: ParserSink = {
        onMessage() {},
        onPing() {},
        onPong() {},
        onClose: () => {
          this.#closeSeen = true;
        },
        onProtocolError() {},
      };
      // Compressed messages (RSV1) are skipped over, not inflated: only the Close frame matters.
      const skipCompressed: MessageDecompressor = { failure: null, decompress: () => 0 };
      this.#closeWatch = new FrameParser(sink, { role: 'client', maxMessageSize: Number.MAX_SAFE_INTEGER, decompressor: skipCompressed });
      this.#headWatch = new HttpHeadReader();
      this.#headsLeft = schedule.heads ?? 1;
    }
    from.on('data', (chunk: Buffer) => this.#push(chunk));
    from.on('end', () => {
      this.#ended = true;
      this.#pump();
    });
  }

  #push(chunk: Buffer): void {
    const max = this.#schedule.maxChunk;
    if (max === undefined) {
      this.#queue.push(chunk);
    } else {
      for (let at = 0; at < chunk.length; ) {
        const size = Math.min(chunk.length - at, 1 + Math.floor(this.#random() * max));
        this.#queue.push(chunk.subarray(at, at + size));
        at += size;
      }
    }
    // Reading far ahead of a slow pump would hold unbounded memory: push back on the source.
    if (this.#queue.length > 1024) this.#from.pause();
    this.#pump();
  }

  /** Forwards queued pieces in a loop (not by recursion: a long queue would overflow the stack). */
  #pump(): void {
    for (;;) {
      if (this.#busy || this.#stalled || this.#connection.done) return;
      const piece = this.#next();
      if (piece === null) {
        if (this.#ended && this.#queue.length === 0) this.#to.end();
        return;
      }
      const delay = this.#schedule.maxDelayMs ? Math.floor(this.#random() * (this.#schedule.maxDelayMs + 1)) : 0;
      if (delay > 0) {
        this.#busy = true;
        setTimeout(() => {
          this.#busy = false;
          if (this.#forward(piece)) this.#pump();
        }, delay);
        return;
      }
      if (!this.#forward(piece)) return;
    }
  }

  /** The next piece, cut so that it ends exactly at the next fault offset. */
  #next(): Buffer | null {
    const piece = this.#queue[0];
    if (piece === undefined) return null;
    const limit = this.#nextOffset();
    if (limit !== null && this.passed + piece.length > limit) {
      const cut = limit - this.passed;
      this.#queue[0] = piece.subarray(cut);
      return piece.subarray(0, cut);
    }
    this.#queue.shift();
    if (this.#queue.length < 256) this.#from.resume();
    return piece;
  }

  #nextOffset(): number | null {
    let limit: number | null = null;
    for (const fault of [this.#schedule.stall, this.#schedule.reset, this.#schedule.fin]) {
      if (fault === undefined || fault.direction !== this.#direction || typeof fault.at !== 'number') continue;
      if (fault.at >= this.passed && (limit === null || fault.at < limit)) limit = fault.at;
    }
    return limit;
  }

  /** Follows the server's frames, after its response head, to see where its Close frame ends. */
  #watch(piece: Buffer): void {
    if (this.#closeWatch === null) return;
    let rest = piece;
    while (this.#headWatch !== null) {
      const result = this.#headWatch.push(rest);
      if (result.kind === 'more') return;
      if (result.kind !== 'head') {
        this.#headWatch = null;
        return;
      }
      rest = result.rest;
      this.#headWatch = --this.#headsLeft > 0 ? new HttpHeadReader() : null;
      if (rest.length === 0) return;
    }
    this.#closeWatch.push(rest);
  }

  /** Writes one piece and applies the fault due at its end; false when pumping must stop. */
  #forward(piece: Buffer): boolean {
    if (this.#connection.done) return false;
    if (piece.length > 0) {
      this.passed += piece.length;
      this.#connection.log.forwarded[this.#direction] = this.passed;
    }
    this.#watch(piece);
    const { stall, reset, fin } = this.#schedule;
    if (reset !== undefined && reset.direction === this.#direction && (reset.at === this.passed || (reset.at === 'after-close' && this.#closeSeen))) {
      // Reset a little after the piece has reached the kernel. Node 18 to 22 (their libuv) read
      // a reset that lands in the same read as the bytes before it as an orderly end, so the
      // peer would see a FIN; the gap lets it read the bytes first, as on a real network.
      this.#connection.done = true;
      this.#to.write(piece, () => setTimeout(() => this.#connection.reset(), RESET_GAP_MS));
      return false;
    }
    if (piece.length > 0) this.#to.write(piece);
    if (fin !== undefined && fin.direction === this.#direction && fin.at === this.passed) {
      this.#connection.log.fault ??= 'fin';
      this.#queue.length = 0;
      this.#from.removeAllListeners('data');
      this.#from.resume();
      this.#to.end();
      return false;
    }
    if (stall !== undefined && stall.direction === this.#direction && stall.at === this.passed && !this.#stalled) {
      this.#stalled = true;
      // Stalled once: move the offset out of the way so the stall does not repeat.
      this.#schedule.stall = { ...stall, at: -1 };
      setTimeout(() => {
        this.#stalled = false;
        this.#pump();
      }, stall.ms);
      return false;
    }
    return true;
  }
}

/** One client connection and its upstream socket. */
class ProxiedConnection {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  readonly #pumps: Pump[] = [];
  done = false;
  readonly log: ProxyLog;

  constructor(client: net.Socket, target: net.AddressInfo, schedule: FaultSchedule) {
    this.client = client;
    // Each direction half-closes on its own, so that a FIN in one direction can be injected.
    this.upstream = net.connect({ host: target.address, port: target.port, allowHalfOpen: true });
    for (const socket of [client, this.upstream]) {
      socket.setNoDelay(true);
      socket.on('error', () => this.reset());
    }
    const schedules = { ...schedule };
    this.#pumps.push(new Pump(client, this.upstream, 'up', schedules, this), new Pump(this.upstream, client, 'down', schedules, this));
    const closed = Promise.all([once(client, 'close'), once(this.upstream, 'close')]).then(() => {
      this.done = true;
    });
    this.log = { forwarded: { up: 0, down: 0 }, fault: null, closed };
  }

  /** Resets both sides: the client and the server each see a TCP reset. */
  reset(): void {
    if (this.log.fault === 'reset') return;
    this.log.fault = 'reset';
    this.done = true;
    for (const socket of [this.client, this.upstream]) {
      if (socket.destroyed) continue;
      // resetAndDestroy needs a connected TCP handle; before that, destroy is all there is.
      if (typeof socket.resetAndDestroy === 'function' && socket.readyState === 'open') socket.resetAndDestroy();
      else socket.destroy();
    }
  }
}

/**
 * The proxy: listens on 127.0.0.1, port 0, and forwards every connection to `target` with the
 * schedule `scheduleFor` gives it (called once per connection, in order).
 */
export class FaultProxy {
  readonly server: net.Server;
  /** The log of each connection, in order; empty when started with `keepLogs: false`. */
  readonly connections: ProxyLog[] = [];
  #accepted = 0;
  readonly #sockets = new Set<net.Socket>();

  private constructor(target: net.AddressInfo, scheduleFor: (index: number) => FaultSchedule, keepLogs: boolean) {
    this.server = net.createServer({ allowHalfOpen: true }, (client) => {
      const connection = new ProxiedConnection(client, target, scheduleFor(this.#accepted++));
      if (keepLogs) this.connections.push(connection.log);
      for (const socket of [client, connection.upstream]) {
        this.#sockets.add(socket);
        socket.once('close', () => this.#sockets.delete(socket));
      }
    });
  }

  /**
   * Starts a proxy in front of the server listening at `target`. A long run passes
   * `keepLogs: false`, so that the proxy holds nothing per finished connection.
   */
  static async start(target: net.AddressInfo, scheduleFor: (index: number) => FaultSchedule, options: { keepLogs?: boolean } = {}): Promise<FaultProxy> {
    const proxy = new FaultProxy(target, scheduleFor, options.keepLogs !== false);
    proxy.server.listen(0, '127.0.0.1');
    await once(proxy.server, 'listening');
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Stops listening and destroys every socket. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
