/**
 * Firing an event with DOM's dispatch semantics over Node's own `EventTarget`, which a page can
 * otherwise tell apart from a browser's in two ways:
 * - Node clears the event's "being dispatched" state after each listener, so from the second
 *   listener on `eventPhase` is NONE (0) and `currentTarget` is null (Node 20 and later);
 * - a listener appended while the event is being dispatched runs for it (also one removed and
 *   added again), where DOM's "inner invoke" walks a clone of the list taken before the first.
 * Both are corrected for one event at one target at a time, on the event's and the target's
 * Node-internal state only: no global, no prototype and no WebIDL-visible property changes.
 * Each correction is feature-detected once by probe dispatches at a private EventTarget, and is
 * used only where Node needs it and the probe comes out right; otherwise Node's dispatch is used
 * as it is.
 * @see https://dom.spec.whatwg.org/#concept-event-dispatch
 * @see https://dom.spec.whatwg.org/#concept-event-listener-inner-invoke
 */
import { isMap } from 'node:util/types';

/** One entry of Node's listener list for a type (lib/internal/event_target.js, Node 18-26). */
interface ListenerNode {
  next: ListenerNode | undefined;
  removed: boolean;
}

/** The head of Node's listener list for a type: the count, then the first entry. */
interface ListenerRoot {
  size: number;
  next: ListenerNode | undefined;
}

// The original methods: firing an event does not call what a page may have replaced.
const nativeDispatch = EventTarget.prototype.dispatchEvent;
const mapGet = Map.prototype.get;

/** Which corrections this Node needs and supports; decided by `detect()` on the first event. */
let detected = false;
let holdDispatchFlag = false;
let snapshotListeners = false;
let kIsBeingDispatched: symbol | undefined;
let kEvents: symbol | undefined;

/**
 * Dispatches `event` at `target` as DOM's dispatch does for a target without parents: every
 * listener sees `eventPhase` AT_TARGET and `currentTarget` the target, and only the listeners
 * in the list when the dispatch began run. Returns what `dispatchEvent` returns.
 * @see https://dom.spec.whatwg.org/#concept-event-dispatch
 */
export function fireEvent(target: EventTarget, event: Event): boolean {
  if (!detected) detect();
  if (!holdDispatchFlag && !snapshotListeners) return nativeDispatch.call(target, event);
  let root: ListenerRoot | undefined;
  if (kEvents !== undefined) {
    root = rootOf(target, event.type);
    // With one listener or none Node's dispatch is DOM's already: the first listener sees the
    // flag set, and Node reads the next entry before calling one, so nothing the last listener
    // adds is reached. This is the common case (one on* handler), and it costs nothing.
    if (root?.next?.next === undefined) return nativeDispatch.call(target, event);
  }
  return guardedDispatch(target, event, holdDispatchFlag, snapshotListeners ? root : undefined);
}

/** Node's listener list for `type` on `target`, or undefined. */
function rootOf(target: EventTarget, type: string): ListenerRoot | undefined {
  const map = (target as unknown as Record<symbol, unknown>)[kEvents as symbol];
  // Node's SafeMap is a Map whose prototype chain is a copy, so `instanceof Map` is false.
  if (!isMap(map)) return undefined;
  return mapGet.call(map, type) as ListenerRoot | undefined;
}

/**
 * Runs Node's dispatch with two guards in place. `hold`: the event's being-dispatched flag
 * ignores Node's clearing it after each listener, until the dispatch returns. `root`: a listener
 * appended during the dispatch is marked removed (Node's loop skips removed entries) until the
 * dispatch returns, and unmarked then if it is still in the list.
 */
function guardedDispatch(target: EventTarget, event: Event, hold: boolean, root: ListenerRoot | undefined): boolean {
  const key = kIsBeingDispatched as symbol;
  const added: ListenerNode[] = [];
  let dispatching = false;
  let flag = false;
  if (hold) {
    // Node sets the flag when the dispatch starts and clears it after each listener and at the
    // end; while the dispatch runs only setting counts. Afterwards the accessor acts as the
    // data property it replaced, should restoring that fail (a listener froze the event).
    Object.defineProperty(event, key, {
      get: () => flag,
      set: (value: unknown) => {
        if (!dispatching || value === true) flag = value === true;
      },
      enumerable: true,
      configurable: true,
    });
  }
  let size = 0;
  if (root !== undefined) {
    size = root.size;
    // addEventListener appends its entry at the end of the list, then counts it.
    Object.defineProperty(root, 'size', {
      get: () => size,
      set: (value: number) => {
        if (value > size) {
          const node = lastNode(root);
          if (node !== undefined) {
            node.removed = true;
            added.push(node);
          }
        }
        size = value;
      },
      enumerable: true,
      configurable: true,
    });
  }
  dispatching = true;
  try {
    return nativeDispatch.call(target, event);
  } finally {
    dispatching = false;
    if (hold) {
      flag = false;
      try {
        Object.defineProperty(event, key, { value: false, writable: true, enumerable: true, configurable: true });
      } catch {
        // A frozen event keeps the accessor, which now reads and writes like the data property.
      }
    }
    if (root !== undefined) {
      Object.defineProperty(root, 'size', { value: size, writable: true, enumerable: true, configurable: true });
      // Listeners added during the dispatch and still in the list take part in the next ones.
      if (added.length > 0) {
        for (let node = root.next; node !== undefined; node = node.next) if (added.includes(node)) node.removed = false;
      }
    }
  }
}

function lastNode(root: ListenerRoot): ListenerNode | undefined {
  let node = root.next;
  while (node?.next !== undefined) node = node.next;
  return node;
}

/** The own symbol of `object` whose description is `description`. */
function symbolNamed(object: object, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(object).find((symbol) => symbol.description === description);
}

/**
 * Decides, once, which corrections to use: each where Node's own dispatch gets the probe wrong
 * and the corrected dispatch gets it right. Node versions we do not know fall back to Node's.
 */
function detect(): void {
  detected = true;
  kIsBeingDispatched = symbolNamed(new Event('probe'), 'kIsBeingDispatched');
  kEvents = symbolNamed(new EventTarget(), 'kEvents');
  if (kIsBeingDispatched !== undefined) {
    holdDispatchFlag = !probePhase((t, e) => nativeDispatch.call(t, e)) && probePhase((t, e) => guardedDispatch(t, e, true, undefined));
  }
  if (kEvents !== undefined) {
    snapshotListeners =
      !probeListeners((t, e) => nativeDispatch.call(t, e)) &&
      probeListeners((t, e) => guardedDispatch(t, e, false, rootOf(t, e.type)));
  }
}

type Dispatch = (target: EventTarget, event: Event) => unknown;

/** Whether three listeners all see AT_TARGET and the target, and the event is reusable after. */
function probePhase(dispatch: Dispatch): boolean {
  try {
    const target = new EventTarget();
    const seen: unknown[] = [];
    for (let i = 0; i < 3; i++) target.addEventListener('probe', (e) => seen.push(e.eventPhase, e.currentTarget === target));
    const event = new Event('probe');
    dispatch(target, event);
    if (seen.join() !== '2,true,2,true,2,true' || event.eventPhase !== 0) return false;
    // The flag is clear again: the event can be dispatched once more.
    dispatch(target, event);
    return seen.length === 12;
  } catch {
    return false;
  }
}

/**
 * Whether listeners added during a dispatch (also one removed and added again, and one added
 * and removed again) stay out of it, and the ones still in the list run in the next dispatch in
 * list order.
 */
function probeListeners(dispatch: Dispatch): boolean {
  try {
    const target = new EventTarget();
    const calls: string[] = [];
    const a = (): void => {
      calls.push('a');
      if (calls.length > 1) return;
      target.addEventListener('probe', d);
      target.removeEventListener('probe', c);
      target.addEventListener('probe', c);
      target.addEventListener('probe', e);
      target.removeEventListener('probe', e);
    };
    const b = (): number => calls.push('b');
    const c = (): number => calls.push('c');
    const d = (): number => calls.push('d');
    const e = (): number => calls.push('e');
    for (const listener of [a, b, c]) target.addEventListener('probe', listener);
    dispatch(target, new Event('probe'));
    if (calls.join() !== 'a,b') return false;
    dispatch(target, new Event('probe'));
    return calls.join() === 'a,b,a,b,d,c';
  } catch {
    return false;
  }
}
