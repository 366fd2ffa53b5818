/**
 * The global `MessageEvent` of Node 18 and 20 brought to what HTML and WebIDL define, where a
 * page can tell: its prototype's `Symbol.toStringTag` is 'MessageEvent' (Node's says 'Event'),
 * and its constructor keeps the EventInit members `bubbles`, `cancelable` and `composed` (Node's
 * drops them). Node 22 and later ship undici's MessageEvent, which does both, and is left alone.
 * The prototype stays Node's own, so the events Node makes itself (a worker_threads MessagePort's
 * message events) stay `instanceof MessageEvent`, and those we fire keep MessageEvent.prototype.
 * @see https://html.spec.whatwg.org/multipage/comms.html#the-messageevent-interface
 * @see https://webidl.spec.whatwg.org/#es-interfaces
 */
import { missingArguments, toDOMString, toUSVString } from './webidl';

type EventConstructor = new (type: string, eventInitDict?: object) => Event;

/**
 * Feature-detects the two gaps on globalThis.MessageEvent and closes each that is open: an own
 * `Symbol.toStringTag` on its prototype, and a constructor that keeps the EventInit members.
 * Running it again finds nothing to do.
 * @see https://html.spec.whatwg.org/multipage/comms.html#the-messageevent-interface
 */
export function installMessageEvent(): void {
  // Node 18 and 20 define it with a lazy getter, which the first read turns into the value.
  const native: unknown = (globalThis as { MessageEvent?: unknown }).MessageEvent;
  if (typeof native !== 'function' || !(native.prototype instanceof Event)) return;
  const proto = native.prototype as object;
  // WebIDL: the interface prototype object's class string is the interface's name.
  if (!Object.prototype.hasOwnProperty.call(proto, Symbol.toStringTag)) {
    Object.defineProperty(proto, Symbol.toStringTag, { value: 'MessageEvent', writable: false, enumerable: false, configurable: true });
  }
  if (keepsEventInit(native as EventConstructor)) return;
  const replacement = messageEventOver(native as EventConstructor);
  // As WebIDL defines interface objects on the global: writable, configurable, not enumerable.
  if (replacement !== undefined) {
    Object.defineProperty(globalThis, 'MessageEvent', { value: replacement, writable: true, enumerable: false, configurable: true });
  }
}

/** Whether `ctor` keeps bubbles, cancelable and composed from its init dictionary. */
function keepsEventInit(ctor: EventConstructor): boolean {
  try {
    const probe = new ctor('message', { bubbles: true, cancelable: true, composed: true });
    return probe.bubbles && probe.cancelable && probe.composed;
  } catch {
    return false;
  }
}

/**
 * A MessageEvent constructor whose instances are Node's MessageEvents (same prototype, same
 * internal slots, read by Node's own getters) with the EventInit members kept; undefined when
 * Node's MessageEvent is not built the way this relies on (its data in own symbol-keyed slots).
 */
function messageEventOver(Native: EventConstructor): EventConstructor | undefined {
  // Node's MessageEvent keeps data, origin, lastEventId, source and ports in own symbol-keyed
  // slots next to Event's: the ones a plain Event does not have.
  const eventSlots = new Set(Object.getOwnPropertySymbols(new Event('message')).map((symbol) => symbol.description));
  const slots = Object.getOwnPropertySymbols(new Native('message')).filter((symbol) => !eventSlots.has(symbol.description));
  if (slots.length === 0) return undefined;

  /**
   * The constructor steps: convert the type, then the dictionary, members read and converted one
   * by one, EventInit's first, each dictionary's in lexicographic order.
   * @see https://dom.spec.whatwg.org/#concept-event-constructor
   */
  function MessageEvent(type: unknown, eventInitDict?: unknown): Event {
    if (new.target === undefined) {
      throw new TypeError("Failed to construct 'MessageEvent': use the 'new' operator; this constructor cannot be called as a function.");
    }
    if (arguments.length === 0) throw missingArguments('MessageEvent', 'constructor', 1, 0);
    const typeString = toDOMString(type);
    // WebIDL dictionary: undefined and null are an empty dictionary, other non-objects throw.
    if (eventInitDict !== undefined && eventInitDict !== null && typeof eventInitDict !== 'object' && typeof eventInitDict !== 'function') {
      throw new TypeError("Failed to construct 'MessageEvent': the second argument is not an object; pass a MessageEventInit dictionary.");
    }
    const init = (eventInitDict ?? {}) as Record<string, unknown>;
    const bubbles = Boolean(init.bubbles);
    const cancelable = Boolean(init.cancelable);
    const composed = Boolean(init.composed);
    const data = init.data;
    const lastEventId = init.lastEventId;
    const lastEventIdString = lastEventId === undefined ? '' : toDOMString(lastEventId);
    const origin = init.origin;
    const originString = origin === undefined ? '' : toUSVString(origin);
    const ports = init.ports;
    const portList = ports === undefined ? [] : toSequence(ports, 'ports');
    const source = init.source;
    // Node's constructor checks that source and every port are MessagePorts.
    const messageInit = {
      data: data === undefined ? null : data,
      lastEventId: lastEventIdString,
      origin: originString,
      ports: portList,
      source: source === undefined ? null : source,
    };
    // `new MessageEvent` makes an object of the prototype Node's constructor makes, so it
    // constructs with Node's class as new.target: V8 takes a slow path (some microseconds per
    // event) when new.target is a plain function lent another class's prototype.
    const newTarget = new.target === (ctor as unknown) ? Native : new.target;
    if (!bubbles && !cancelable && !composed) return Reflect.construct(Native, [typeString, messageInit], newTarget) as Event;
    // An Event with the EventInit members, given the slots of a MessageEvent Node has filled in.
    const filled = new Native(typeString, messageInit);
    const event = Reflect.construct(Event, [typeString, { bubbles, cancelable, composed }], newTarget) as Event;
    // Node's constructor assigns them, so assigning makes the same plain data properties.
    for (const slot of slots) (event as unknown as Record<symbol, unknown>)[slot] = (filled as unknown as Record<symbol, unknown>)[slot];
    return event;
  }

  // WebIDL's interface object: length 1, the same prototype object (so Node's own events are
  // instances), which names it as its constructor; it inherits from Event.
  const ctor = MessageEvent as unknown as EventConstructor;
  Object.defineProperty(ctor, 'length', { value: 1 });
  Object.defineProperty(ctor, 'prototype', { value: Native.prototype, writable: false, enumerable: false, configurable: false });
  Object.defineProperty(Native.prototype, 'constructor', { value: ctor, writable: true, enumerable: false, configurable: true });
  Object.setPrototypeOf(ctor, Object.getPrototypeOf(Native) as object);
  try {
    const probe = new ctor('message', { data: 'probe', cancelable: true });
    if (probe instanceof Native && (probe as MessageEvent).data === 'probe' && probe.cancelable) return ctor;
  } catch {
    // Falls through: Node's MessageEvent is not the one we know.
  }
  Object.defineProperty(Native.prototype, 'constructor', { value: Native, writable: true, enumerable: false, configurable: true });
  return undefined;
}

/**
 * WebIDL `sequence<T>` from an iterable, Symbol.iterator read once.
 * @see https://webidl.spec.whatwg.org/#es-sequence
 */
function toSequence(value: unknown, member: string): unknown[] {
  const method = value !== null && (typeof value === 'object' || typeof value === 'function') ? (value as Iterable<unknown>)[Symbol.iterator] : undefined;
  if (typeof method !== 'function') {
    throw new TypeError(`Failed to construct 'MessageEvent': ${member} is not a sequence; pass an array (or another iterable) of MessagePorts.`);
  }
  return Array.from({ [Symbol.iterator]: () => Reflect.apply(method, value, []) as Iterator<unknown> });
}
