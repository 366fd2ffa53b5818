/**
 * The WebIDL shape of the WebSocket interface as script sees it: accessors and operations on the
 * prototype with WebIDL's property attributes, brand checks, constants, and enumeration
 * conversion for binaryType.
 * @see https://webidl.spec.whatwg.org/#es-interfaces
 * @see https://websockets.spec.whatwg.org/#interface-definition
 */
import { once } from 'node:events';
import { CloseEvent, WebSocket } from '../../lib/ponyfill';
import { TestServer } from '../../lib/server';

let server: TestServer;
let ws: WebSocket;

beforeEach(async () => {
  server = await TestServer.start({ mode: 'echo' });
  ws = new WebSocket(server.url());
  await once(ws, 'open', { signal: AbortSignal.timeout(5000) });
});
afterEach(async () => {
  if (ws.readyState !== WebSocket.CLOSED) {
    ws.close();
    await once(ws, 'close', { signal: AbortSignal.timeout(5000) });
  }
  await server.close();
});

const proto = WebSocket.prototype;
const readonlyAttributes = ['url', 'readyState', 'bufferedAmount', 'extensions', 'protocol'];
const writableAttributes = ['onopen', 'onerror', 'onclose', 'onmessage', 'binaryType'];
const operations = { close: 0, send: 1 };
const constants = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 };

describe('interface object', () => {
  test('is a class extending EventTarget, named WebSocket, with length 1', () => {
    expect(Object.getPrototypeOf(WebSocket)).toBe(EventTarget);
    expect(Object.getPrototypeOf(proto)).toBe(EventTarget.prototype);
    expect(WebSocket.name).toBe('WebSocket');
    expect(WebSocket.length).toBe(1);
    expect(Object.getOwnPropertyDescriptor(WebSocket, 'prototype')).toMatchObject({ writable: false, enumerable: false, configurable: false });
    expect(Object.getOwnPropertyDescriptor(proto, 'constructor')).toMatchObject({ value: WebSocket, writable: true, enumerable: false, configurable: true });
    expect(ws).toBeInstanceOf(EventTarget);
  });

  test('constants are on the constructor and the prototype: enumerable, read-only, not configurable', () => {
    for (const [name, value] of Object.entries(constants)) {
      for (const holder of [WebSocket, proto]) {
        expect(Object.getOwnPropertyDescriptor(holder, name)).toEqual({ value, writable: false, enumerable: true, configurable: false });
      }
      expect((ws as unknown as Record<string, number>)[name]).toBe(value);
      // Assigning fails (strict mode code throws) and changes nothing.
      expect(() => {
        (WebSocket as unknown as Record<string, number>)[name] = 9;
      }).toThrow(TypeError);
      expect((WebSocket as unknown as Record<string, number>)[name]).toBe(value);
    }
  });

  test('the constructor has only length, name, prototype and the constants as own properties', () => {
    expect(Object.getOwnPropertyNames(WebSocket).sort()).toEqual(['length', 'name', 'prototype', ...Object.keys(constants)].sort());
    expect(Object.getOwnPropertySymbols(WebSocket)).toEqual([]);
  });

  test('Symbol.toStringTag is "WebSocket"', () => {
    expect(Object.prototype.toString.call(ws)).toBe('[object WebSocket]');
    expect(Object.prototype.toString.call(proto)).toBe('[object WebSocket]');
    expect(Object.getOwnPropertyDescriptor(proto, Symbol.toStringTag)).toEqual({
      value: 'WebSocket',
      writable: false,
      enumerable: false,
      configurable: true,
    });
  });

  test('instances have no own string-keyed properties: all state is internal', () => {
    expect(Object.getOwnPropertyNames(ws)).toEqual([]);
    expect(Object.keys(ws)).toEqual([]);
  });

  test('the prototype has exactly the members of the IDL', () => {
    const names = Object.getOwnPropertyNames(proto).sort();
    expect(names).toEqual(['constructor', ...readonlyAttributes, ...writableAttributes, ...Object.keys(operations), ...Object.keys(constants)].sort());
  });
});

describe('attributes', () => {
  test.each(readonlyAttributes)('%s is a getter-only accessor, enumerable and configurable', (name) => {
    const d = Object.getOwnPropertyDescriptor(proto, name) as PropertyDescriptor;
    expect(typeof d.get).toBe('function');
    expect(d.set).toBeUndefined();
    expect([d.enumerable, d.configurable]).toEqual([true, true]);
    expect(d.get?.name).toBe(`get ${name}`);
    expect(d.get?.length).toBe(0);
  });

  test.each(writableAttributes)('%s is a getter/setter accessor, enumerable and configurable', (name) => {
    const d = Object.getOwnPropertyDescriptor(proto, name) as PropertyDescriptor;
    expect(typeof d.get).toBe('function');
    expect(typeof d.set).toBe('function');
    expect([d.enumerable, d.configurable]).toEqual([true, true]);
    expect(d.set?.name).toBe(`set ${name}`);
    expect(d.set?.length).toBe(1);
  });

  test('assigning a read-only attribute throws in strict code and changes nothing', () => {
    const url = ws.url;
    expect(() => {
      (ws as unknown as { url: string }).url = 'ws://elsewhere/';
    }).toThrow(TypeError);
    expect(() => {
      (ws as unknown as { readyState: number }).readyState = 3;
    }).toThrow(TypeError);
    expect(ws.url).toBe(url);
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  test.each([...readonlyAttributes, ...writableAttributes])('the %s getter and setter brand-check their receiver', (name) => {
    const d = Object.getOwnPropertyDescriptor(proto, name) as PropertyDescriptor;
    for (const receiver of [{}, proto, new EventTarget(), new CloseEvent('close'), null, undefined, 1]) {
      expect(() => d.get?.call(receiver)).toThrow(TypeError);
      if (d.set) expect(() => d.set?.call(receiver, null)).toThrow(TypeError);
    }
    expect(() => d.get?.call(ws)).not.toThrow();
  });

  test('reading an attribute through a plain object inheriting from the prototype is a TypeError', () => {
    const fake = Object.create(proto) as WebSocket;
    expect(() => fake.url).toThrow(TypeError);
    expect(() => fake.onmessage).toThrow(TypeError);
  });
});

describe('operations', () => {
  test.each(Object.entries(operations))('%s is a method: writable, enumerable, configurable, with length %i', (name, length) => {
    const d = Object.getOwnPropertyDescriptor(proto, name) as PropertyDescriptor;
    expect(typeof d.value).toBe('function');
    expect([d.writable, d.enumerable, d.configurable]).toEqual([true, true, true]);
    expect((d.value as () => void).name).toBe(name);
    expect((d.value as () => void).length).toBe(length);
  });

  test('send and close brand-check their receiver, before converting arguments', () => {
    let converted = false;
    const arg = {
      toString(): string {
        converted = true;
        return 'x';
      },
    };
    for (const receiver of [{}, proto, new EventTarget(), undefined]) {
      expect(() => proto.send.call(receiver, arg as unknown as string)).toThrow(TypeError);
      expect(() => proto.close.call(receiver, 1000)).toThrow(TypeError);
    }
    expect(converted).toBe(false);
  });

  test('methods are not constructors', () => {
    const Send = proto.send as unknown as new () => unknown;
    expect(() => new Send()).toThrow(TypeError);
  });
});

describe('binaryType', () => {
  test('takes "arraybuffer" and "blob"; ignores every other value, keeping the previous one', () => {
    const target = ws as unknown as { binaryType: unknown };
    expect(ws.binaryType).toBe('blob');
    for (const bad of ['nodebuffer', 'fragments', 'Blob', 'ARRAYBUFFER', '', ' blob', null, undefined, 0, {}]) {
      target.binaryType = bad;
      expect(ws.binaryType).toBe('blob');
    }
    ws.binaryType = 'arraybuffer';
    for (const bad of ['blob ', 'Blob', null, 1]) {
      target.binaryType = bad;
      expect(ws.binaryType).toBe('arraybuffer');
    }
    target.binaryType = { toString: () => 'blob' }; // converted with ToString first
    expect(ws.binaryType).toBe('blob');
  });

  test('a value whose ToString throws makes the setter throw, and changes nothing', () => {
    const target = ws as unknown as { binaryType: unknown };
    expect(() => {
      target.binaryType = Symbol('arraybuffer');
    }).toThrow(TypeError);
    expect(ws.binaryType).toBe('blob');
  });

  test('an ignored value does not change what the next binary message is delivered as', async () => {
    ws.binaryType = 'arraybuffer';
    (ws as unknown as { binaryType: unknown }).binaryType = 'nodebuffer';
    ws.send(new Uint8Array([1, 2]));
    const [e] = (await once(ws, 'message', { signal: AbortSignal.timeout(5000) })) as [MessageEvent];
    expect(e.data).toBeInstanceOf(ArrayBuffer);
  });
});

describe('subclassing', () => {
  test('a subclass instance passes the brand checks and connects', async () => {
    class Tagged extends WebSocket {
      tag = 'mine';
    }
    const sub = new Tagged(server.url());
    expect(sub.url).toBe(server.url());
    expect(sub.readyState).toBe(WebSocket.CONNECTING);
    await once(sub, 'open', { signal: AbortSignal.timeout(5000) });
    sub.close();
    await once(sub, 'close', { signal: AbortSignal.timeout(5000) });
    expect(sub.tag).toBe('mine');
  });
});
