/**
 * Bounded waits on a WebSocket's events, shared by the integration tests. Every wait rejects
 * with a message after its bound, so a missing event fails the test instead of hanging it.
 */
import { once } from 'node:events';
import type { WebSocket, CloseEvent } from '../../lib/ponyfill';

/** How a connection ended, and the event types seen on the way, in order. */
export interface Outcome {
  /** Types of the open, message, error and close events, in dispatch order. */
  events: string[];
  code: number;
  reason: string;
  wasClean: boolean;
  /** readyState when the close event was dispatched. */
  readyState: number;
}

/** Resolves with `promise`, or rejects after `timeoutMs` naming `what`. */
export function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Records the events of `ws` until its close event. Call it right after constructing the
 * WebSocket (events are dispatched in later tasks, so none is missed).
 */
export function outcomeOf(ws: WebSocket, timeoutMs = 5000): Promise<Outcome> {
  const events: string[] = [];
  for (const type of ['open', 'message', 'error']) ws.addEventListener(type, () => events.push(type));
  const closed = new Promise<Outcome>((resolve) => {
    ws.addEventListener('close', (event) => {
      events.push('close');
      const close = event as CloseEvent;
      resolve({ events, code: close.code, reason: close.reason, wasClean: close.wasClean, readyState: ws.readyState });
    });
  });
  const outcome = within(closed, timeoutMs, 'the close event');
  // A test that never awaits the outcome must not turn its timeout into an unhandled rejection.
  outcome.catch(() => {});
  return outcome;
}

/** Waits for one event of `type` on `ws`, bounded. */
export async function next<E extends Event = Event>(ws: EventTarget, type: string, timeoutMs = 5000): Promise<E> {
  const [event] = (await within(once(ws, type), timeoutMs, `a '${type}' event`)) as [E];
  return event;
}

/** The outcome of a connection the client failed: error, then close 1006, not clean. */
export const FAILED = { code: 1006, reason: '', wasClean: false, readyState: 3 } as const;

/** Lets the current task end and the next turn of the event loop run. */
export function nextTask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Runs `fn` and returns the name of the DOMException it threw; fails if it threw none. */
export function domExceptionName(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DOMException);
    return (error as DOMException).name;
  }
  throw new Error('expected a DOMException, nothing was thrown');
}
