/**
 * CloseEvent (constructor, dictionary conversion, WebIDL shape, global install) and the event
 * handler slot behind the on* attributes, on a plain EventTarget.
 * @see https://websockets.spec.whatwg.org/#the-closeevent-interface
 * @see https://html.spec.whatwg.org/multipage/webappapis.html#event-handler-attributes
 */
import { CloseEvent, EventHandlerSlot, type EventInit } from '../../lib/events';
import * as entry from '../../lib/index';
import * as ponyfill from '../../lib/ponyfill';

describe('CloseEvent constructor', () => {
  test('defaults: code 0, reason "", wasClean false, and the Event defaults', () => {
    for (const e of [new CloseEvent('close'), new CloseEvent('close', {}), new CloseEvent('close', undefined), new CloseEvent('close', null)]) {
      expect([e.type, e.code, e.reason, e.wasClean]).toEqual(['close', 0, '', false]);
      expect([e.bubbles, e.cancelable, e.composed, e.defaultPrevented]).toEqual([false, false, false, false]);
    }
  });

  test('takes every member of the init dictionary, including the inherited EventInit ones', () => {
    const e = new CloseEvent('custom', { code: 4000, reason: 'why', wasClean: true, bubbles: true, cancelable: true, composed: true });
    expect([e.type, e.code, e.reason, e.wasClean, e.bubbles, e.cancelable, e.composed]).toEqual(['custom', 4000, 'why', true, true, true, true]);
  });

  test.each([
    [1000, 1000],
    [65535, 65535],
    [65536, 0], // unsigned short without [Clamp] or [EnforceRange] wraps
    [65537, 1],
    [-1, 65535],
    [1005.9, 1005],
    [NaN, 0],
    [Infinity, 0],
    ['4001', 4001],
    [null, 0],
    [true, 1],
  ])('code %p becomes %p', (code, expected) => {
    expect(new CloseEvent('close', { code: code as number }).code).toBe(expected);
  });

  test('reason is a USVString: ToString, lone surrogates become U+FFFD, a BOM stays', () => {
    expect(new CloseEvent('close', { reason: 42 as unknown as string }).reason).toBe('42');
    expect(new CloseEvent('close', { reason: null as unknown as string }).reason).toBe('null');
    expect(new CloseEvent('close', { reason: 'a\uD800' }).reason).toBe('a\uFFFD');
    expect(new CloseEvent('close', { reason: '\uFEFFbom' }).reason).toBe('\uFEFFbom');
  });

  test('wasClean is ToBoolean', () => {
    expect(new CloseEvent('close', { wasClean: 1 as unknown as boolean }).wasClean).toBe(true);
    expect(new CloseEvent('close', { wasClean: 'yes' as unknown as boolean }).wasClean).toBe(true);
    expect(new CloseEvent('close', { wasClean: {} as unknown as boolean }).wasClean).toBe(true);
    expect(new CloseEvent('close', { wasClean: '' as unknown as boolean }).wasClean).toBe(false);
    expect(new CloseEvent('close', { wasClean: 0 as unknown as boolean }).wasClean).toBe(false);
  });

  test('members are read from the prototype chain too', () => {
    const init = Object.create({ code: 3003, reason: 'inherited', wasClean: true, bubbles: true }) as object;
    const e = new CloseEvent('close', init);
    expect([e.code, e.reason, e.wasClean, e.bubbles]).toEqual([3003, 'inherited', true, true]);
  });

  test('members are read and converted one by one, in lexicographic order after the EventInit ones', () => {
    const log: string[] = [];
    const converting = (name: string, value: unknown): object => ({
      valueOf: () => {
        log.push(`convert ${name}`);
        return value;
      },
      toString: () => {
        log.push(`convert ${name}`);
        return String(value);
      },
    });
    const init = new Proxy(
      { code: converting('code', 1000), reason: converting('reason', 'r'), wasClean: true, bubbles: false, cancelable: false, composed: false },
      {
        get(target, key, receiver) {
          if (typeof key === 'string') log.push(`get ${key}`);
          return Reflect.get(target, key, receiver) as unknown;
        },
      },
    );
    const e = new CloseEvent('close', init as unknown as CloseEventInitLike);
    expect([e.code, e.reason]).toEqual([1000, 'r']);
    expect(log).toEqual(['get bubbles', 'get cancelable', 'get composed', 'get code', 'convert code', 'get reason', 'convert reason', 'get wasClean']);
  });

  test('the type is converted with ToString before the dictionary is read', () => {
    const log: string[] = [];
    const type = { toString: () => (log.push('type'), 'close') };
    const init = {
      get bubbles(): boolean {
        log.push('bubbles');
        return false;
      },
      get code(): number {
        log.push('code');
        return 1;
      },
    };
    expect(new CloseEvent(type as unknown as string, init).type).toBe('close');
    expect(log).toEqual(['type', 'bubbles', 'code']);
    expect(new CloseEvent(5 as unknown as string).type).toBe('5');
  });

  test('a missing type is a TypeError', () => {
    const Ctor = CloseEvent as unknown as new () => CloseEvent;
    expect(() => new Ctor()).toThrow(TypeError);
  });

  test('a Symbol type is a TypeError of this realm', () => {
    expect(() => new CloseEvent(Symbol('t') as unknown as string)).toThrow(TypeError);
  });

  test('a dictionary that is not an object is a TypeError', () => {
    for (const init of [5, 'x', true, Symbol('s'), 1n]) {
      expect(() => new CloseEvent('close', init as unknown as object)).toThrow(TypeError);
    }
  });

  test('a member conversion that fails propagates', () => {
    expect(() => new CloseEvent('close', { code: Symbol('c') as unknown as number })).toThrow(TypeError);
    expect(() => new CloseEvent('close', { code: 1n as unknown as number })).toThrow(TypeError);
    expect(() => new CloseEvent('close', { reason: Symbol('r') as unknown as string })).toThrow(TypeError);
  });

  test('calling it without new is a TypeError', () => {
    expect(() => (CloseEvent as unknown as (t: string) => unknown)('close')).toThrow(TypeError);
  });
});

/** The init dictionary's shape as the constructor's parameter type sees it. */
type CloseEventInitLike = ConstructorParameters<typeof CloseEvent>[1];

describe('CloseEvent interface', () => {
  const proto = CloseEvent.prototype;

  test('extends Event, is named CloseEvent, with length 1', () => {
    expect(Object.getPrototypeOf(CloseEvent)).toBe(Event);
    expect(Object.getPrototypeOf(proto)).toBe(Event.prototype);
    expect(CloseEvent.name).toBe('CloseEvent');
    expect(CloseEvent.length).toBe(1);
    expect(new CloseEvent('close')).toBeInstanceOf(Event);
  });

  test.each(['wasClean', 'code', 'reason'])('%s is a getter-only accessor on the prototype, enumerable and configurable', (name) => {
    const d = Object.getOwnPropertyDescriptor(proto, name) as PropertyDescriptor;
    expect(typeof d.get).toBe('function');
    expect(d.set).toBeUndefined();
    expect([d.enumerable, d.configurable]).toEqual([true, true]);
  });

  test.each(['wasClean', 'code', 'reason'])('the %s getter brand-checks its receiver', (name) => {
    const get = (Object.getOwnPropertyDescriptor(proto, name) as PropertyDescriptor).get as () => unknown;
    for (const receiver of [{}, new Event('close'), proto, Object.create(proto), null, undefined]) {
      expect(() => get.call(receiver)).toThrow(TypeError);
    }
  });

  test('instances have no own string-keyed properties besides Event’s isTrusted', () => {
    expect(Object.getOwnPropertyNames(new CloseEvent('close')).filter((k) => k !== 'isTrusted')).toEqual([]);
  });

  test('Symbol.toStringTag is "CloseEvent"', () => {
    expect(Object.prototype.toString.call(new CloseEvent('close'))).toBe('[object CloseEvent]');
    expect(Object.getOwnPropertyDescriptor(proto, Symbol.toStringTag)).toEqual({
      value: 'CloseEvent',
      writable: false,
      enumerable: false,
      configurable: true,
    });
  });

  test('dispatches like any event', () => {
    const target = new EventTarget();
    let got: CloseEvent | undefined;
    target.addEventListener('close', (e) => (got = e as CloseEvent));
    const e = new CloseEvent('close', { code: 1000 });
    target.dispatchEvent(e);
    expect(got).toBe(e);
  });
});

describe('CloseEvent exports', () => {
  test('the ponyfill and the main entry export the same class', () => {
    expect(ponyfill.CloseEvent).toBe(CloseEvent);
    expect(entry.CloseEvent).toBe(CloseEvent);
  });

  test('the main entry installs it on globalThis: writable, configurable, not enumerable', () => {
    expect((globalThis as { CloseEvent?: unknown }).CloseEvent).toBe(CloseEvent);
    expect(Object.getOwnPropertyDescriptor(globalThis, 'CloseEvent')).toEqual({
      value: CloseEvent,
      writable: true,
      enumerable: false,
      configurable: true,
    });
  });
});

describe('EventHandlerSlot', () => {
  function fire(target: EventTarget, type = 'x', init?: EventInit): Event {
    const e = new Event(type, init);
    target.dispatchEvent(e);
    return e;
  }

  test('a replaced handler keeps its place; null removes it; setting again appends', () => {
    const target = new EventTarget();
    const slot = new EventHandlerSlot();
    const log: string[] = [];
    target.addEventListener('x', () => log.push('before'));
    slot.set(target, 'x', () => log.push('h1'));
    target.addEventListener('x', () => log.push('after'));
    slot.set(target, 'x', () => log.push('h2'));
    fire(target);
    expect(log).toEqual(['before', 'h2', 'after']);
    log.length = 0;
    slot.set(target, 'x', null);
    expect(slot.value).toBeNull();
    fire(target);
    expect(log).toEqual(['before', 'after']);
    log.length = 0;
    slot.set(target, 'x', () => log.push('h3'));
    fire(target);
    expect(log).toEqual(['before', 'after', 'h3']);
  });

  test('non-objects are stored as null; objects and functions as they are', () => {
    const target = new EventTarget();
    const slot = new EventHandlerSlot();
    for (const v of [1, 'code', true, undefined, Symbol('s'), 2n]) {
      slot.set(target, 'x', () => 0);
      slot.set(target, 'x', v);
      expect(slot.value).toBeNull();
    }
    const obj = {};
    slot.set(target, 'x', obj);
    expect(slot.value).toBe(obj);
    expect(() => fire(target)).not.toThrow(); // a non-callable object is not called
  });

  test('calls the handler with this = the target and the event; false cancels a cancelable event', () => {
    const target = new EventTarget();
    const slot = new EventHandlerSlot();
    let self: unknown;
    let arg: unknown;
    slot.set(target, 'x', function (this: unknown, e: Event) {
      self = this;
      arg = e;
      return false;
    });
    const e = fire(target, 'x', { cancelable: true });
    expect(self).toBe(target);
    expect(arg).toBe(e);
    expect(e.defaultPrevented).toBe(true);
  });

  test('other return values do not cancel; false on a non-cancelable event is harmless', () => {
    const target = new EventTarget();
    const slot = new EventHandlerSlot();
    for (const result of [true, 0, '', undefined, null]) {
      slot.set(target, 'x', () => result);
      expect(fire(target, 'x', { cancelable: true }).defaultPrevented).toBe(false);
    }
    slot.set(target, 'x', () => false);
    expect(fire(target, 'x').defaultPrevented).toBe(false);
  });

  test('only its own event type runs the handler', () => {
    const target = new EventTarget();
    const slot = new EventHandlerSlot();
    let calls = 0;
    slot.set(target, 'open', () => calls++);
    fire(target, 'close');
    expect(calls).toBe(0);
    fire(target, 'open');
    expect(calls).toBe(1);
  });
});
