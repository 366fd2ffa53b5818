/**
 * The worker entry (`polyfill/worker`): installs `WebSocket` and `CloseEvent` as the main entry
 * does and, inside a `worker_threads` Worker, also gives the thread the globals a browser's
 * dedicated worker script relies on (`self`, `postMessage`, `onmessage`, `addEventListener`,
 * `close`), so that such a script runs unchanged. On the main thread it only installs.
 * @see https://html.spec.whatwg.org/multipage/workers.html#dedicated-workers-and-the-dedicatedworkerglobalscope-interface
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import { EventHandlerSlot } from './events';
import './index';

export * from './ponyfill';

type EventListener = (event: Event) => unknown;
type Listener = EventListener | { handleEvent(event: Event): unknown } | null | undefined;
type ListenerOptions = boolean | { capture?: boolean; once?: boolean; passive?: boolean; signal?: AbortSignal } | undefined;

// Loading the entry twice in one realm (for example `-r` and `import`) must not install twice.
const INSTALLED = Symbol.for('polyfill.dedicatedWorkerGlobalScope');

if (parentPort !== null && !(INSTALLED in globalThis)) installWorkerScope(parentPort);

/**
 * Defines the DedicatedWorkerGlobalScope members on globalThis, over the thread's parentPort.
 * @see https://html.spec.whatwg.org/multipage/workers.html#dedicatedworkerglobalscope
 */
function installWorkerScope(port: MessagePort): void {
  const global = globalThis as unknown as Record<PropertyKey, unknown>;
  // Node's global object cannot become an EventTarget, so a private one holds the listeners
  // and the global's methods forward to it; listeners still see `self` as `this` and as target.
  const target = new EventTarget();
  const bound = new WeakMap<object, EventListener>();
  const handlers = { message: new EventHandlerSlot(), messageerror: new EventHandlerSlot() };
  let listening = false;
  let closing = false;

  // Browsers call a listener function with the global as `this`; a cached wrapper keeps that
  // and keeps removeEventListener finding the same listener.
  const bind = (listener: Listener): Listener => {
    if (typeof listener !== 'function') return listener;
    let wrapper = bound.get(listener);
    if (wrapper === undefined) {
      wrapper = function (this: unknown, event: Event): unknown {
        return (listener as (this: unknown, event: Event) => unknown).call(globalThis, event);
      };
      bound.set(listener, wrapper);
    }
    return wrapper;
  };

  // The port starts (and holds the thread alive) only once someone listens, as a MessagePort
  // does in Node: a script that never listens ends when its work is done.
  const listen = (type: string): void => {
    if (listening || closing || (type !== 'message' && type !== 'messageerror')) return;
    listening = true;
    port.addEventListener('message', onPortMessage as never);
    port.addEventListener('messageerror', onPortMessageError as never);
  };

  const onPortMessage = (event: MessageEvent): void => {
    if (closing) return;
    dispatch(new MessageEvent('message', { data: event.data, ports: [...event.ports] }));
  };
  const onPortMessageError = (): void => {
    if (closing) return;
    dispatch(new MessageEvent('messageerror', { data: null }));
  };

  const dispatch = (event: Event): boolean => {
    retarget(event);
    dispatching.add(event);
    try {
      return target.dispatchEvent(event);
    } finally {
      dispatching.delete(event);
    }
  };

  const methods = {
    addEventListener(type: string, listener: Listener, options?: ListenerOptions): void {
      if (arguments.length < 2) throw new TypeError(`Failed to execute 'addEventListener': 2 arguments required, but only ${arguments.length} present.`);
      target.addEventListener(String(type), bind(listener) as never, options);
      if (listener !== null && listener !== undefined) listen(String(type));
    },
    removeEventListener(type: string, listener: Listener, options?: boolean | { capture?: boolean }): void {
      if (arguments.length < 2) throw new TypeError(`Failed to execute 'removeEventListener': 2 arguments required, but only ${arguments.length} present.`);
      target.removeEventListener(String(type), bind(listener) as never, options);
    },
    dispatchEvent(event: Event): boolean {
      if (!(event instanceof Event)) throw new TypeError("Failed to execute 'dispatchEvent': the argument is not an Event.");
      return dispatch(event);
    },
    /**
     * Sends a message to the parent's Worker object: `postMessage(message, transfer)` or
     * `postMessage(message, { transfer })`.
     * @see https://html.spec.whatwg.org/multipage/workers.html#dom-dedicatedworkerglobalscope-postmessage
     */
    postMessage(message: unknown, transferOrOptions?: Iterable<object> | { transfer?: Iterable<object> }): void {
      if (arguments.length === 0) throw new TypeError("Failed to execute 'postMessage': 1 argument required, but only 0 present.");
      port.postMessage(message, toTransferList(transferOrOptions) as never);
    },
    /**
     * Sets the closing flag: no further message events, and the thread ends once the current
     * task is over, as `process.exit()` would end it. Messages posted before that still arrive.
     * @see https://html.spec.whatwg.org/multipage/workers.html#dom-dedicatedworkerglobalscope-close
     */
    close(): void {
      if (closing) return;
      closing = true;
      setImmediate(() => process.exit());
    },
  };

  define(global, INSTALLED, true, false);
  define(global, 'self', globalThis, true);
  for (const [name, method] of Object.entries(methods)) define(global, name, method, true);
  for (const type of ['message', 'messageerror'] as const) {
    Object.defineProperty(global, `on${type}`, {
      get: () => handlers[type].value,
      set: (value: unknown) => {
        handlers[type].set(globalThis as unknown as EventTarget, type, value);
        if (handlers[type].value !== null) listen(type);
      },
      enumerable: true,
      configurable: true,
    });
  }
}

// Events being dispatched at the global. Node's own eventPhase and currentTarget read NONE and
// null from the second listener on (Node 20-24), so currentTarget cannot be derived from them.
const dispatching = new WeakSet<Event>();

/** Makes an event report the global as its target, and as currentTarget while dispatched, as in a browser. */
function retarget(event: Event): void {
  if (Object.prototype.hasOwnProperty.call(event, 'target')) return;
  const self = (): unknown => globalThis;
  const current = (): unknown => (dispatching.has(event) ? globalThis : null);
  try {
    Object.defineProperties(event, {
      target: { get: self, configurable: true },
      srcElement: { get: self, configurable: true },
      currentTarget: { get: current, configurable: true },
    });
  } catch {
    // A frozen event keeps the private target; dispatch still works.
  }
}

/** The transfer list of `postMessage(message, transfer)` or `postMessage(message, { transfer })`. */
function toTransferList(value: unknown): object[] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'object' && typeof value !== 'function') {
    throw new TypeError("Failed to execute 'postMessage': the second argument is neither a transfer list nor an options object.");
  }
  if (Symbol.iterator in value) return Array.from(value as Iterable<object>);
  const transfer = (value as { transfer?: unknown }).transfer;
  if (transfer === undefined) return [];
  if (transfer === null || typeof transfer !== 'object' || !(Symbol.iterator in transfer)) {
    throw new TypeError("Failed to execute 'postMessage': options.transfer must be a sequence of objects.");
  }
  return Array.from(transfer as Iterable<object>);
}

/** Defines a global the way WebIDL defines operations and attributes of the global: writable, configurable. */
function define(global: Record<PropertyKey, unknown>, name: PropertyKey, value: unknown, enumerable: boolean): void {
  Object.defineProperty(global, name, { value, writable: true, enumerable, configurable: true });
}
