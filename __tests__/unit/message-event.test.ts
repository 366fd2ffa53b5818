/**
 * The global MessageEvent once the main entry has run, on whichever Node runs the tests: on 18
 * and 20 our constructor over Node's prototype, on 22 and later undici's. Both must convert the
 * init dictionary as WebIDL says and keep the EventInit members.
 * @see https://html.spec.whatwg.org/multipage/comms.html#the-messageevent-interface
 */
import '../../lib/index';

/** The name of what `fn` threw (names, not classes: Node's own errors come from another realm). */
function thrownName(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).name;
  }
  return 'nothing thrown';
}

test('the class string is MessageEvent, and the EventInit members are kept', () => {
  const e = new MessageEvent('message', { bubbles: true, cancelable: true, composed: true });
  expect(Object.prototype.toString.call(e)).toBe('[object MessageEvent]');
  expect([e.bubbles, e.cancelable, e.composed]).toEqual([true, true, true]);
  e.preventDefault();
  expect(e.defaultPrevented).toBe(true);
});

test('the type is converted first, then the EventInit members, then the MessageEventInit ones', () => {
  const read: string[] = [];
  const init = new Proxy({}, { get: (_target, key) => (typeof key === 'string' && read.push(key), undefined) });
  new MessageEvent({ toString: () => (read.push('type'), 'message') } as unknown as string, init);
  expect(read.slice(0, 4)).toEqual(['type', 'bubbles', 'cancelable', 'composed']);
  expect(read.slice(4).sort()).toEqual(['data', 'lastEventId', 'origin', 'ports', 'source']);
});

test('members: data any (undefined is null), lastEventId ToString, origin a USVString', () => {
  const e = new MessageEvent('message', { data: undefined, lastEventId: 5 as unknown as string, origin: 'a\uD800' });
  expect([e.data, e.lastEventId, e.origin]).toEqual([null, '5', 'a\uFFFD']);
  const data = { x: 1 };
  expect(new MessageEvent('message', { data, cancelable: true }).data).toBe(data);
  // null is an empty dictionary (undici 6, Node 22's, then leaves data undefined rather than null).
  expect(new MessageEvent('message', null as unknown as MessageEventInit).bubbles).toBe(false);
});

test('ports and source are MessagePorts, kept as given', () => {
  const { port1, port2 } = new MessageChannel();
  try {
    const e = new MessageEvent('message', { ports: new Set([port1]), source: port2, cancelable: true } as never);
    expect(e.ports).toEqual([port1]);
    expect(e.source).toBe(port2);
  } finally {
    port1.close();
  }
});

test.each([
  ['no arguments', () => new (MessageEvent as unknown as new () => Event)()],
  ['a dictionary that is not an object', () => new MessageEvent('message', 5 as unknown as MessageEventInit)],
  ['ports that are not a sequence', () => new MessageEvent('message', { ports: 5 } as never)],
  ['a port that is not a MessagePort', () => new MessageEvent('message', { ports: [1] } as never)],
  ['a source that is not a MessagePort', () => new MessageEvent('message', { source: 1 } as never)],
  ['a call without new', () => (MessageEvent as unknown as (type: string) => Event)('message')],
])('%s is a TypeError', (_name, fn) => {
  expect(thrownName(fn)).toBe('TypeError');
});

test('a subclass constructs instances of itself that keep the EventInit members', () => {
  class Tagged extends MessageEvent<string> {
    readonly tag = 'mine';
  }
  const e = new Tagged('message', { data: 'd', cancelable: true });
  expect(e).toBeInstanceOf(Tagged);
  expect(e).toBeInstanceOf(MessageEvent);
  expect([e.tag, e.data, e.cancelable]).toEqual(['mine', 'd', true]);
});
