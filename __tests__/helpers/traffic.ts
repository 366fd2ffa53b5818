/**
 * The application layer of the fault tests: a seeded list of numbered messages (text and
 * binary, 0 B to 1 MiB), sent through a WebSocket to an echo server, and the invariants the
 * echoes and events must keep whatever the network did to them.
 */
import { prng } from '../../lib/fault-proxy';
import type { CloseEvent, WebSocket } from '../../lib/ponyfill';

/** One message as sent: its type and exact content. */
export type Message = { text: true; data: string } | { text: false; data: Uint8Array };

/** `count` messages drawn from `seed`, none larger than `maxSize` bytes. */
export function makeMessages(seed: number, count: number, maxSize: number): Message[] {
  const random = prng(seed);
  const out: Message[] = [];
  for (let i = 0; i < count; i++) {
    // Mostly small sizes, with 0 and the length-field boundaries, and now and then a large one.
    const pick = random();
    const size = Math.min(
      maxSize,
      pick < 0.1 ? 0 : pick < 0.2 ? [1, 125, 126, 127, 65535, 65536][Math.floor(random() * 6)] : pick < 0.9 ? Math.floor(random() * 512) : Math.floor(random() * maxSize),
    );
    if (random() < 0.5) {
      // Text: ASCII with some 2-, 3- and 4-byte characters, about `size` bytes.
      const parts = [`#${i}:`];
      for (let bytes = parts[0].length; bytes < size; ) {
        const r = random();
        const [piece, length] = r < 0.7 ? [String.fromCharCode(32 + Math.floor(random() * 95)), 1] : r < 0.8 ? ['é', 2] : r < 0.9 ? ['€', 3] : ['😀', 4];
        parts.push(piece as string);
        bytes += length as number;
      }
      out.push({ text: true, data: size === 0 ? '' : parts.join('') });
    } else {
      const data = new Uint8Array(size);
      for (let j = 0; j < size; j++) data[j] = Math.floor(random() * 256);
      if (size >= 4) new DataView(data.buffer).setUint32(0, i);
      out.push({ text: false, data });
    }
  }
  return out;
}

/** What the client saw on one connection. */
export interface Observed {
  /** Messages received, in order, as their type and bytes. */
  received: Message[];
  /** Event types in order, including any after close. */
  events: string[];
  close: { code: number; reason: string; wasClean: boolean; readyState: number } | null;
  /** The smallest bufferedAmount seen at any event. */
  minBuffered: number;
  /** bufferedAmount when the last expected echo arrived (null if it never did). */
  bufferedAtLastEcho: number | null;
}

/**
 * Sends `messages` on `ws` once it opens, closes with 1000 once every echo is back, and records
 * what happens. Resolves at the close event.
 */
export function exchange(ws: WebSocket, messages: readonly Message[]): { observed: Observed; closed: Promise<void> } {
  ws.binaryType = 'arraybuffer';
  const observed: Observed = { received: [], events: [], close: null, minBuffered: 0, bufferedAtLastEcho: null };
  const note = (type: string): void => {
    observed.events.push(type);
    observed.minBuffered = Math.min(observed.minBuffered, ws.bufferedAmount);
  };
  ws.addEventListener('open', () => {
    note('open');
    for (const m of messages) ws.send(m.data);
    if (messages.length === 0) ws.close(1000);
  });
  ws.addEventListener('message', (event) => {
    note('message');
    const data = (event as MessageEvent).data as string | ArrayBuffer;
    observed.received.push(typeof data === 'string' ? { text: true, data } : { text: false, data: new Uint8Array(data) });
    if (observed.received.length === messages.length) {
      observed.bufferedAtLastEcho = ws.bufferedAmount;
      ws.close(1000);
    }
  });
  ws.addEventListener('error', () => note('error'));
  const closed = new Promise<void>((resolve) => {
    ws.addEventListener('close', (event) => {
      note('close');
      const e = event as CloseEvent;
      observed.close = { code: e.code, reason: e.reason, wasClean: e.wasClean, readyState: ws.readyState };
      resolve();
    });
  });
  return { observed, closed };
}

/** The first index where `received` departs from `sent` (types and bytes), or -1 if it is a prefix. */
export function firstMismatch(sent: readonly Message[], received: readonly Message[]): number {
  if (received.length > sent.length) return sent.length;
  for (let i = 0; i < received.length; i++) {
    const a = sent[i];
    const b = received[i];
    if (a.text !== b.text) return i;
    if (a.text) {
      if (a.data !== b.data) return i;
    } else if (!Buffer.from(a.data).equals(Buffer.from(b.data as Uint8Array))) {
      return i;
    }
  }
  return -1;
}
