/**
 * fireEvent: DOM's dispatch over Node's EventTarget, on a bare EventTarget. Every listener sees
 * eventPhase AT_TARGET and currentTarget the target; listeners added during the dispatch (also
 * removed and added again) do not run for it; everything else is Node's dispatch unchanged.
 * @see https://dom.spec.whatwg.org/#concept-event-dispatch
 * @see https://dom.spec.whatwg.org/#concept-event-listener-inner-invoke
 */
import { getEventListeners } from 'node:events';
import { dropHandlerMap, fireEvent } from '../../lib/dispatch';

/** What a listener saw of the event while it ran. */
function view(event: Event, target: EventTarget): { phase: number; current: boolean; path: number } {
  return { phase: event.eventPhase, current: event.currentTarget === target, path: event.composedPath().length };
}

const AT_TARGET = { phase: 2, current: true, path: 1 };

describe('the event is being dispatched in every listener', () => {
  test('listeners 1 to 3 see eventPhase 2, currentTarget the target and a composedPath of one', () => {
    const target = new EventTarget();
    const seen: unknown[] = [];
    for (let i = 0; i < 3; i++) target.addEventListener('x', (e) => seen.push(view(e, target)));
    const event = new Event('x');
    expect(fireEvent(target, event)).toBe(true);
    expect(seen).toEqual([AT_TARGET, AT_TARGET, AT_TARGET]);
    expect(event.eventPhase).toBe(0);
    expect(event.composedPath()).toEqual([]);
  });

  test('also for listener objects, once listeners, passive and capture listeners', () => {
    const target = new EventTarget();
    const seen: unknown[] = [];
    target.addEventListener('x', { handleEvent: (e: Event) => seen.push(view(e, target)) });
    target.addEventListener('x', (e) => seen.push(view(e, target)), { once: true });
    target.addEventListener('x', (e) => seen.push(view(e, target)), { passive: true });
    target.addEventListener('x', (e) => seen.push(view(e, target)), { capture: true });
    fireEvent(target, new Event('x'));
    expect(seen).toEqual([AT_TARGET, AT_TARGET, AT_TARGET, AT_TARGET]);
    fireEvent(target, new Event('x'));
    expect(seen).toHaveLength(7); // the once listener has gone
  });

  test('dispatching the event again from a later listener throws (ERR_EVENT_RECURSION in Node): it is still being dispatched', () => {
    const target = new EventTarget();
    let thrown: unknown;
    let calls = 0;
    target.addEventListener('x', () => {});
    target.addEventListener('x', (e) => {
      if (calls++ > 0) return; // a nested dispatch (the bug) calls this listener again
      try {
        target.dispatchEvent(e);
      } catch (error) {
        thrown = error;
      }
    });
    fireEvent(target, new Event('x'));
    expect(thrown).toMatchObject({ code: 'ERR_EVENT_RECURSION' }); // Node's error for DOM's InvalidStateError
    expect(calls).toBe(1);
  });

  test('afterwards the event can be dispatched again, by fireEvent and by dispatchEvent', () => {
    const target = new EventTarget();
    let calls = 0;
    target.addEventListener('x', () => calls++);
    target.addEventListener('x', () => calls++);
    const event = new Event('x');
    fireEvent(target, event);
    fireEvent(target, event);
    target.dispatchEvent(event);
    expect(calls).toBe(6);
  });

  test('no trace is left on the event: its own properties are those of a fresh event', () => {
    const target = new EventTarget();
    let namesInside: string[] = ['not run'];
    target.addEventListener('x', () => {});
    target.addEventListener('x', (e) => {
      namesInside = Object.getOwnPropertyNames(e);
    });
    const event = new Event('x');
    fireEvent(target, event);
    expect(namesInside).toEqual([]);
    const fresh = new Event('x');
    const descriptors = (e: Event): unknown[] =>
      Object.getOwnPropertySymbols(e).map((key) => {
        const { value, ...attributes } = Object.getOwnPropertyDescriptor(e, key) as PropertyDescriptor;
        return [key.description, typeof value, attributes];
      });
    expect(descriptors(event)).toEqual(descriptors(fresh));
  });

  test('stopImmediatePropagation still stops the later listeners; preventDefault still cancels', () => {
    const target = new EventTarget();
    const calls: string[] = [];
    target.addEventListener('x', () => calls.push('a'));
    target.addEventListener('x', (e) => {
      calls.push('b');
      e.preventDefault();
      e.stopImmediatePropagation();
    });
    target.addEventListener('x', () => calls.push('c'));
    const event = new Event('x', { cancelable: true });
    expect(fireEvent(target, event)).toBe(false);
    expect(calls).toEqual(['a', 'b']);
    expect(event.defaultPrevented).toBe(true);
  });

  test('an event dispatched at another target from a listener leaves the outer dispatch intact', () => {
    const outer = new EventTarget();
    const inner = new EventTarget();
    const seen: unknown[] = [];
    inner.addEventListener('y', () => {});
    inner.addEventListener('y', (e) => seen.push(view(e, inner)));
    outer.addEventListener('x', () => fireEvent(inner, new Event('y')));
    outer.addEventListener('x', (e) => seen.push(view(e, outer)));
    fireEvent(outer, new Event('x'));
    expect(seen).toEqual([AT_TARGET, AT_TARGET]);
  });
});

describe('listeners changed during the dispatch', () => {
  let target: EventTarget;
  let calls: string[];
  const listener = (name: string) => (): number => calls.push(name);

  beforeEach(() => {
    target = new EventTarget();
    calls = [];
  });

  test('a listener added during the dispatch does not run for it, and runs last in the next one', () => {
    const added = listener('added');
    target.addEventListener('x', () => {
      calls.push('a');
      target.addEventListener('x', added);
    });
    target.addEventListener('x', listener('b'));
    fireEvent(target, new Event('x'));
    expect(calls).toEqual(['a', 'b']);
    fireEvent(target, new Event('x'));
    expect(calls).toEqual(['a', 'b', 'a', 'b', 'added']);
  });

  test('a listener removed and added again does not run for it, and runs last in the next one', () => {
    const c = listener('c');
    target.addEventListener('x', () => {
      calls.push('a');
      if (calls.length > 1) return;
      target.removeEventListener('x', c);
      target.addEventListener('x', c);
    });
    target.addEventListener('x', c);
    target.addEventListener('x', listener('b'));
    fireEvent(target, new Event('x'));
    expect(calls).toEqual(['a', 'b']);
    fireEvent(target, new Event('x'));
    expect(calls).toEqual(['a', 'b', 'a', 'b', 'c']);
    expect(getEventListeners(target, 'x')).toHaveLength(3);
  });

  test('a listener removed during the dispatch does not run, and a later one still does', () => {
    const b = listener('b');
    target.addEventListener('x', () => {
      calls.push('a');
      target.removeEventListener('x', b);
    });
    target.addEventListener('x', b);
    target.addEventListener('x', listener('c'));
    fireEvent(target, new Event('x'));
    expect(calls).toEqual(['a', 'c']);
  });

  test('a listener added and removed again during the dispatch never runs', () => {
    const added = listener('added');
    target.addEventListener('x', () => {
      calls.push('a');
      target.addEventListener('x', added);
      target.removeEventListener('x', added);
    });
    target.addEventListener('x', listener('b'));
    fireEvent(target, new Event('x'));
    fireEvent(target, new Event('x'));
    expect(calls).toEqual(['a', 'b', 'a', 'b']);
  });

  test('the same function added with capture is a second listener, and is held back too', () => {
    const b = listener('b');
    target.addEventListener('x', () => {
      calls.push('a');
      target.addEventListener('x', b, { capture: true });
    });
    target.addEventListener('x', b);
    fireEvent(target, new Event('x'));
    expect(calls).toEqual(['a', 'b']);
    fireEvent(target, new Event('x'));
    expect(calls).toEqual(['a', 'b', 'a', 'b', 'b']);
  });

  test('a listener added by the last listener, or by the only one, does not run for it', () => {
    target.addEventListener('x', () => {
      calls.push('only');
      target.addEventListener('x', listener('added'));
    });
    fireEvent(target, new Event('x'));
    expect(calls).toEqual(['only']);
  });

  test('when every listener is removed and one added, the added one waits for the next dispatch', () => {
    const a = (): void => {
      calls.push('a');
      target.removeEventListener('x', a);
      target.removeEventListener('x', b);
      target.addEventListener('x', c);
    };
    const b = listener('b');
    const c = listener('c');
    target.addEventListener('x', a);
    target.addEventListener('x', b);
    fireEvent(target, new Event('x'));
    expect(calls).toEqual(['a']);
    fireEvent(target, new Event('x'));
    expect(calls).toEqual(['a', 'c']);
  });

  test('what the listener list holds afterwards is what addEventListener and removeEventListener made of it', () => {
    const a = listener('a');
    const added = listener('added');
    target.addEventListener('x', () => target.addEventListener('x', added));
    target.addEventListener('x', a);
    fireEvent(target, new Event('x'));
    expect(getEventListeners(target, 'x')).toEqual([expect.any(Function), a, added]);
    target.removeEventListener('x', added);
    expect(getEventListeners(target, 'x')).toHaveLength(2);
  });
});

describe('dropHandlerMap', () => {
  const slotOf = (target: EventTarget): unknown => {
    const key = Object.getOwnPropertySymbols(target).find((s) => s.description === 'kHandlers');
    return key === undefined ? 'no slot' : (target as unknown as Record<symbol, unknown>)[key];
  };

  test("leaves Node's on* handler slot empty (as Node 24 does), and listeners and dispatch work as before", () => {
    const target = new EventTarget();
    dropHandlerMap(target);
    // Node 18 has no such slot; Node 20 and 22 made a Map, now gone; Node 24 on never made one.
    expect(['no slot', undefined]).toContain(slotOf(target));
    const seen: string[] = [];
    const listener = (e: Event): number => seen.push(e.type);
    target.addEventListener('x', listener);
    expect(fireEvent(target, new Event('x'))).toBe(true);
    target.removeEventListener('x', listener);
    fireEvent(target, new Event('x'));
    expect(seen).toEqual(['x']);
  });

  test('a slot that holds handlers is left alone', () => {
    const signal = new AbortController().signal;
    const handler = (): void => {};
    signal.onabort = handler;
    const before = slotOf(signal);
    dropHandlerMap(signal);
    expect(slotOf(signal)).toBe(before);
    expect(signal.onabort).toBe(handler);
  });
});
