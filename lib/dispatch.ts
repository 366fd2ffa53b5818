/**
 * Firing an event with DOM's dispatch semantics over Node's own `EventTarget`, which a page can
 * otherwise tell apart from a browser's in two ways:
 * - Node clears the event's "being dispatched" state after each listener, so from the second
 *   listener on `eventPhase` is NONE (0) and `currentTarget` is null (Node 20 and later);
 * - a listener appended while the event is being dispatched runs for it (also one removed and
 *   added again), where DOM's "inner invoke" walks a clone of the list taken before the first.
 * Node's own dispatchEvent still runs every listener (errors, once, passive, stopping and the
 * return value stay Node's); two hooks on the objects of Node's listener list (never on the
 * event, the target, a global or a prototype, so nothing WebIDL-visible changes) correct it
 * while one of our events is being dispatched. Each correction is feature-detected once, by
 * probe dispatches at a private EventTarget, and used only where Node gets the probe wrong and
 * the corrected dispatch gets it right; otherwise Node's dispatch is used as it is.
 * @see https://dom.spec.whatwg.org/#concept-event-dispatch
 * @see https://dom.spec.whatwg.org/#concept-event-listener-inner-invoke
 */
/** One entry of Node's listener list for a type (lib/internal/event_target.js, Node 18-26). */
interface ListenerNode {
  next: ListenerNode | undefined;
  removed: boolean;
  callback: unknown;
  [kList]?: ListenerRoot;
  [kCallback]?: unknown;
}

/** The head of Node's listener list for a type: the count, then the first entry. */
interface ListenerRoot {
  size: number;
  next: ListenerNode | undefined;
  [kSize]?: number;
}

// The original methods: firing an event does not call what a page may have replaced.
const nativeDispatch = EventTarget.prototype.dispatchEvent;
const mapGet = Map.prototype.get as (this: Map<string, ListenerRoot>, key: string) => ListenerRoot | undefined;

// Our state on Node's listener objects (never on the event or the target), under our own keys.
const kSize = Symbol('polyfill.dispatch.size'); // on a hooked list head: the count
const kList = Symbol('polyfill.dispatch.list'); // on a hooked entry: the head of its list
const kCallback = Symbol('polyfill.dispatch.callback'); // on a hooked entry: its callback

/** Which corrections this Node needs and supports; decided by `detect()` on the first event. */
let detected = false;
let holdDispatchFlag = false;
let snapshotListeners = false;
let kIsBeingDispatched: symbol | undefined;
let kEvents: symbol | undefined;

// The dispatch in progress: its list, its event, and the entries added to the list since it
// began (from addedStart on, so that a nested dispatch keeps its own).
let activeList: ListenerRoot | undefined;
let activeEvent: Event | undefined;
const addedEntries: ListenerNode[] = [];

/**
 * Dispatches `event` at `target` as DOM's dispatch does for a target without parents: every
 * listener sees `eventPhase` AT_TARGET and `currentTarget` the target, and only the listeners
 * in the list when the dispatch began run. Returns what `dispatchEvent` returns.
 * @see https://dom.spec.whatwg.org/#concept-event-dispatch
 */
export function fireEvent(target: EventTarget, event: Event): boolean {
  if (!detected) detect();
  if (!holdDispatchFlag && !snapshotListeners) return nativeDispatch.call(target, event);
  const root = rootOf(target, event.type);
  // With one listener or none Node's dispatch is DOM's already: the first listener sees the
  // flag set, and Node reads the next entry before calling one, so nothing the last listener
  // adds is reached. This is the common case (one on* handler), and it costs nothing.
  if (root?.next?.next === undefined) return nativeDispatch.call(target, event);
  return guardedDispatch(target, event, root, holdDispatchFlag, snapshotListeners);
}

/** Node's listener list for `type` on `target`, or undefined. */
function rootOf(target: EventTarget, type: string): ListenerRoot | undefined {
  // Node's own slot: undefined until the first listener is added, then a SafeMap (a Map whose
  // prototype chain is a copy, so Map.prototype.get applies but `instanceof Map` is false).
  const map = (target as unknown as Record<symbol, Map<string, ListenerRoot> | undefined>)[kEvents as symbol];
  return map === undefined ? undefined : mapGet.call(map, type);
}

/**
 * The list head's count, as an accessor: addEventListener appends its entry at the end of the
 * list and then counts it, so a count that grows during the dispatch names the last entry as
 * added. Node's loop skips entries marked removed; the mark is lifted when the dispatch ends.
 */
const sizeHook: PropertyDescriptor = {
  get(this: ListenerRoot): number {
    return this[kSize] as number;
  },
  set(this: ListenerRoot, value: number): void {
    if (this === activeList && value > (this[kSize] as number)) {
      const entry = lastEntry(this);
      if (entry !== undefined) {
        entry.removed = true;
        addedEntries.push(entry);
      }
    }
    this[kSize] = value;
  },
  enumerable: true,
  configurable: true,
};

/**
 * An entry's callback, as an accessor: Node reads it right before calling the listener, which
 * is when the being-dispatched flag Node cleared after the previous listener is set again.
 */
const callbackHook: PropertyDescriptor = {
  get(this: ListenerNode): unknown {
    if (this[kList] === activeList && activeEvent !== undefined) {
      (activeEvent as unknown as Record<symbol, unknown>)[kIsBeingDispatched as symbol] = true;
    }
    return this[kCallback];
  },
  set(this: ListenerNode, value: unknown): void {
    this[kCallback] = value;
  },
  enumerable: true,
  configurable: true,
};

/**
 * Runs Node's dispatch with the hooks in place on `root`'s list. Each list head and entry is
 * hooked once, the first time it takes part in a guarded dispatch, and keeps its hooks, which
 * do nothing outside one: the per-dispatch cost is a walk over the list.
 */
function guardedDispatch(target: EventTarget, event: Event, root: ListenerRoot, hold: boolean, snapshot: boolean): boolean {
  if (snapshot && !(kSize in root)) {
    root[kSize] = root.size;
    Object.defineProperty(root, 'size', sizeHook);
  }
  if (hold) {
    for (let entry = root.next; entry !== undefined; entry = entry.next) {
      if (kList in entry) continue;
      entry[kList] = root;
      entry[kCallback] = entry.callback;
      Object.defineProperty(entry, 'callback', callbackHook);
    }
  }
  const outerList = activeList;
  const outerEvent = activeEvent;
  const addedStart = addedEntries.length;
  activeList = root;
  activeEvent = event;
  try {
    return nativeDispatch.call(target, event);
  } finally {
    activeList = outerList;
    activeEvent = outerEvent;
    // Listeners added during the dispatch and still in the list take part in the next ones.
    if (addedEntries.length > addedStart) {
      for (let entry = root.next; entry !== undefined; entry = entry.next) {
        if (addedEntries.indexOf(entry, addedStart) !== -1) entry.removed = false;
      }
      addedEntries.length = addedStart;
    }
  }
}

function lastEntry(root: ListenerRoot): ListenerNode | undefined {
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
  if (kEvents === undefined) return;
  const guarded =
    (hold: boolean, snapshot: boolean): Dispatch =>
    (target, event) => {
      const root = rootOf(target, event.type);
      if (root === undefined) throw new Error('no listener list');
      return guardedDispatch(target, event, root, hold, snapshot);
    };
  const native: Dispatch = (target, event) => nativeDispatch.call(target, event);
  holdDispatchFlag = kIsBeingDispatched !== undefined && !probePhase(native) && probePhase(guarded(true, false));
  snapshotListeners = !probeListeners(native) && probeListeners(guarded(false, true));
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

// Node 18 to 22 give every EventTarget a Map for the on* handlers defined by Node's own
// defineEventHandler (Node 24 makes it when one is first set). Our classes define their own on*
// attributes and never use it, and an empty Map costs ~250 bytes: for 10,000 idle sockets, 2.5 MB.
let kHandlers: symbol | null | undefined;

/**
 * Lets `target` (one of our EventTargets, which never uses Node's handler Map) go without that
 * Map, leaving the slot undefined as Node 24 does. Only an empty Map of our own target is
 * dropped; where Node keeps no such slot, nothing is done.
 */
export function dropHandlerMap(target: EventTarget): void {
  if (kHandlers === undefined) {
    const probe = new EventTarget();
    const key = symbolNamed(probe, 'kHandlers') ?? null;
    const value = key === null ? undefined : (probe as unknown as Record<symbol, { size?: unknown } | null | undefined>)[key];
    kHandlers = typeof value === 'object' && value !== null && value.size === 0 ? key : null;
  }
  if (kHandlers === null) return;
  const slots = target as unknown as Record<symbol, { size?: number } | undefined>;
  if (slots[kHandlers]?.size === 0) slots[kHandlers] = undefined;
}
