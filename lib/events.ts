/**
 * `CloseEvent`, and event handler IDL attributes with HTML's semantics.
 * @see https://websockets.spec.whatwg.org/#the-closeevent-interface
 * @see https://html.spec.whatwg.org/multipage/webappapis.html#event-handler-attributes
 */
import { defineInterface, illegalInvocation, missingArguments, toDOMString, toUnsignedShort, toUSVString } from './webidl';

/** The dictionary every event constructor takes. @see https://dom.spec.whatwg.org/#dictdef-eventinit */
export interface EventInit {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
}

/** The dictionary `CloseEvent`'s constructor takes. @see https://websockets.spec.whatwg.org/#dictdef-closeeventinit */
export interface CloseEventInit extends EventInit {
  wasClean?: boolean;
  code?: number;
  reason?: string;
}

/**
 * The event fired when a WebSocket connection closes.
 * @see https://websockets.spec.whatwg.org/#the-closeevent-interface
 */
export class CloseEvent extends Event {
  readonly #wasClean: boolean;
  readonly #code: number;
  readonly #reason: string;

  constructor(type: string, eventInitDict: CloseEventInit | null = {}) {
    if (arguments.length === 0) throw missingArguments('CloseEvent', 'constructor', 1, 0);
    // WebIDL converts the arguments in order: the type, then the dictionary.
    const typeString = toDOMString(type);
    // WebIDL dictionary: undefined and null are an empty dictionary, other non-objects throw.
    if (eventInitDict !== undefined && eventInitDict !== null && typeof eventInitDict !== 'object' && typeof eventInitDict !== 'function') {
      throw new TypeError("Failed to construct 'CloseEvent': the second argument is not an object.");
    }
    // Event reads the inherited EventInit members (bubbles, cancelable, composed) first.
    const init = eventInitDict ?? {};
    super(typeString, init as object);
    // Each member is read and converted before the next, in lexicographic order.
    const code = init.code;
    this.#code = code === undefined ? 0 : toUnsignedShort(code);
    const reason = init.reason;
    this.#reason = reason === undefined ? '' : toUSVString(reason);
    const wasClean = init.wasClean;
    this.#wasClean = wasClean === undefined ? false : Boolean(wasClean);
  }

  /** Whether the connection closed cleanly. */
  get wasClean(): boolean {
    if (!(#wasClean in this)) throw illegalInvocation('CloseEvent', 'wasClean');
    return this.#wasClean;
  }

  /** The close code the server sent, 1005 if none, 1006 if no Close frame arrived. */
  get code(): number {
    if (!(#code in this)) throw illegalInvocation('CloseEvent', 'code');
    return this.#code;
  }

  /** The close reason the server sent. */
  get reason(): string {
    if (!(#reason in this)) throw illegalInvocation('CloseEvent', 'reason');
    return this.#reason;
  }
}
defineInterface(CloseEvent, {});

/** A callback stored by an `on*` attribute: any object (callable or not), or null. */
export type EventHandlerValue = object | null;

/**
 * The state behind one event handler IDL attribute. The listener is added when the handler is
 * first set to non-null, keeps its place in the listener list when the handler is replaced, and
 * is removed when the handler is set to null.
 * @see https://html.spec.whatwg.org/multipage/webappapis.html#event-handler-attributes
 */
export class EventHandlerSlot {
  value: EventHandlerValue = null;
  #listener: ((event: Event) => void) | null = null;

  /** The attribute's setter steps, for the event named `type` on `target`. */
  set(target: EventTarget, type: string, value: unknown): void {
    // [LegacyTreatNonObjectAsNull]: non-objects are null; objects are kept even if not callable.
    const handler = value !== null && (typeof value === 'object' || typeof value === 'function') ? value : null;
    if (handler === null) {
      this.value = null;
      if (this.#listener !== null) {
        target.removeEventListener(type, this.#listener);
        this.#listener = null;
      }
      return;
    }
    this.value = handler;
    if (this.#listener === null) {
      const slot = this;
      // "The event handler processing algorithm": call the current handler; false cancels.
      this.#listener = function (this: EventTarget, event: Event): void {
        const callback = slot.value;
        if (typeof callback !== 'function') return;
        const result: unknown = callback.call(this, event);
        if (result === false) event.preventDefault();
      };
      target.addEventListener(type, this.#listener);
    }
  }
}
