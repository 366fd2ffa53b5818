/**
 * The WebIDL conversions and the interface-shaping helper, as pure functions.
 * @see https://webidl.spec.whatwg.org/#es-type-mapping
 */
import { Blob } from 'node:buffer';
import {
  defineInterface,
  illegalInvocation,
  missingArguments,
  toClampedUnsignedShort,
  toDOMString,
  toSendData,
  toStringOrStringSequence,
  toUnsignedShort,
  toUSVString,
} from '../../lib/webidl';

describe('toDOMString', () => {
  test.each([
    ['abc', 'abc'],
    [5, '5'],
    [-0, '0'],
    [null, 'null'],
    [undefined, 'undefined'],
    [true, 'true'],
    [10n, '10'],
    [[1, [2, 3]], '1,2,3'],
    [{ toString: () => 'custom' }, 'custom'],
    [{ toString: () => ({}), valueOf: () => 'from valueOf' }, 'from valueOf'],
  ])('ToString(%p) is %j', (value, expected) => {
    expect(toDOMString(value)).toBe(expected);
  });

  test('a Symbol, or an object that converts to one, is a TypeError', () => {
    expect(() => toDOMString(Symbol('s'))).toThrow(TypeError);
    expect(() => toDOMString({ [Symbol.toPrimitive]: () => Symbol('t') })).toThrow(TypeError);
  });

  test('keeps lone surrogates (that is USVString’s job)', () => {
    expect(toDOMString('\uD800')).toBe('\uD800');
  });
});

describe('toUSVString', () => {
  test.each([
    ['plain', 'plain'],
    ['\uD800', '\uFFFD'],
    ['\uDC00', '\uFFFD'],
    ['a\uD800b', 'a\uFFFDb'],
    ['\uDC00\uD800', '\uFFFD\uFFFD'], // reversed pair: two lone surrogates
    ['\uD83D\uDE00', '\uD83D\uDE00'], // a pair stays
    ['\uD83D\uD83D\uDE00', '\uFFFD\uD83D\uDE00'],
    ['x\uD83D', 'x\uFFFD'],
  ])('%j becomes %j', (input, expected) => {
    expect(toUSVString(input)).toBe(expected);
  });

  test('converts with ToString first', () => {
    expect(toUSVString({ toString: () => '\uDFFF!' })).toBe('\uFFFD!');
    expect(() => toUSVString(Symbol('s'))).toThrow(TypeError);
  });
});

describe('toClampedUnsignedShort ([Clamp] unsigned short)', () => {
  test.each([
    [0, 0],
    [1000, 1000],
    [65535, 65535],
    [65536, 65535],
    [1e10, 65535],
    [Infinity, 65535],
    [-1, 0],
    [-Infinity, 0],
    [NaN, 0],
    [undefined, 0],
    [null, 0],
    [true, 1],
    ['4000', 4000],
    ['', 0],
    ['x', 0],
    [3000.4, 3000],
    [3000.6, 3001],
    [0.5, 0], // ties go to the even integer
    [1.5, 2],
    [2.5, 2],
    [2999.5, 3000],
    [3000.5, 3000],
    [65534.5, 65534],
    [{ valueOf: () => 1000 }, 1000],
  ])('%p becomes %p', (value, expected) => {
    expect(toClampedUnsignedShort(value)).toBe(expected);
  });

  test('-0 and small negatives become +0', () => {
    expect(Object.is(toClampedUnsignedShort(-0), 0)).toBe(true);
    expect(Object.is(toClampedUnsignedShort(-0.4), 0)).toBe(true);
  });

  test('Symbols and BigInts are TypeErrors, also when valueOf returns them', () => {
    expect(() => toClampedUnsignedShort(Symbol('s'))).toThrow(TypeError);
    expect(() => toClampedUnsignedShort(1000n)).toThrow(TypeError);
    expect(() => toClampedUnsignedShort({ valueOf: () => 1000n })).toThrow(TypeError);
    expect(() => toClampedUnsignedShort({ valueOf: () => Symbol('v') })).toThrow(TypeError);
  });
});

describe('toUnsignedShort (unsigned short, modulo 2^16)', () => {
  test.each([
    [0, 0],
    [1000, 1000],
    [65535, 65535],
    [65536, 0],
    [65537, 1],
    [-1, 65535],
    [-65536, 0],
    [1.9, 1],
    [-1.9, 65535], // truncates toward zero to -1
    [2 ** 32 + 5, 5],
    [NaN, 0],
    [Infinity, 0],
    [-Infinity, 0],
    ['1005', 1005],
    [null, 0],
    [true, 1],
  ])('%p becomes %p', (value, expected) => {
    expect(toUnsignedShort(value)).toBe(expected);
  });

  test('-0 becomes +0', () => {
    expect(Object.is(toUnsignedShort(-0), 0)).toBe(true);
    expect(Object.is(toUnsignedShort(-65536), 0)).toBe(true);
  });

  test('Symbols and BigInts are TypeErrors, also when valueOf returns them', () => {
    expect(() => toUnsignedShort(Symbol('s'))).toThrow(TypeError);
    expect(() => toUnsignedShort(5n)).toThrow(TypeError);
    expect(() => toUnsignedShort({ valueOf: () => 5n })).toThrow(TypeError);
  });
});

describe('toStringOrStringSequence ((DOMString or sequence<DOMString>))', () => {
  test('a string is a sequence of that one string', () => {
    expect(toStringOrStringSequence('chat')).toEqual(['chat']);
    expect(toStringOrStringSequence('')).toEqual(['']);
  });

  test('non-objects are one string, even null', () => {
    expect(toStringOrStringSequence(null)).toEqual(['null']);
    expect(toStringOrStringSequence(7)).toEqual(['7']);
  });

  test('any iterable is a sequence, each item converted with ToString', () => {
    expect(toStringOrStringSequence(['a', 1, null])).toEqual(['a', '1', 'null']);
    expect(toStringOrStringSequence(new Set(['x', 'y']))).toEqual(['x', 'y']);
    expect(toStringOrStringSequence(new Map([['k', 'v']]).keys())).toEqual(['k']);
    function* gen(): Generator<string> {
      yield 'g1';
      yield 'g2';
    }
    expect(toStringOrStringSequence(gen())).toEqual(['g1', 'g2']);
    expect(toStringOrStringSequence(new String('ab'))).toEqual(['a', 'b']); // a String object is iterable
  });

  test('an object without Symbol.iterator (or with null) is converted as one string', () => {
    expect(toStringOrStringSequence({})).toEqual(['[object Object]']);
    expect(toStringOrStringSequence({ [Symbol.iterator]: null, toString: () => 's' })).toEqual(['s']);
    expect(toStringOrStringSequence({ [Symbol.iterator]: undefined, toString: () => 'u' })).toEqual(['u']);
  });

  test('a non-callable Symbol.iterator is a TypeError', () => {
    expect(() => toStringOrStringSequence({ [Symbol.iterator]: 1 })).toThrow(TypeError);
    expect(() => toStringOrStringSequence({ [Symbol.iterator]: {} })).toThrow(TypeError);
  });

  test('an iterator, or an iterator result, that is not an object is a TypeError', () => {
    expect(() => toStringOrStringSequence({ [Symbol.iterator]: () => 5 })).toThrow(TypeError);
    expect(() => toStringOrStringSequence({ [Symbol.iterator]: () => ({ next: () => 5 }) })).toThrow(TypeError);
  });

  test('Symbol.iterator is read once, and the method is called with the object as this', () => {
    let reads = 0;
    let self: unknown;
    const iterable = {
      get [Symbol.iterator]() {
        reads++;
        return function (this: unknown): Iterator<string> {
          self = this;
          return ['p'][Symbol.iterator]();
        };
      },
    };
    expect(toStringOrStringSequence(iterable)).toEqual(['p']);
    expect(reads).toBe(1);
    expect(self).toBe(iterable);
  });

  test('a failing item conversion propagates and does not call the iterator’s return()', () => {
    let returned = false;
    const iterator = {
      next: () => ({ done: false, value: Symbol('bad') }),
      return: () => {
        returned = true;
        return { done: true, value: undefined };
      },
    };
    expect(() => toStringOrStringSequence({ [Symbol.iterator]: () => iterator })).toThrow(TypeError);
    expect(returned).toBe(false);
  });
});

describe('toSendData ((BufferSource or Blob or USVString))', () => {
  test('a Blob stays a Blob', () => {
    const blob = new Blob(['x']);
    expect(toSendData(blob)).toEqual({ kind: 'blob', value: blob });
  });

  test('an ArrayBuffer becomes a view of all of it, without copying', () => {
    const buffer = new Uint8Array([1, 2, 3]).buffer;
    const out = toSendData(buffer);
    expect(out.kind).toBe('bytes');
    const bytes = out.value as Uint8Array;
    expect(bytes.buffer).toBe(buffer);
    expect([...bytes]).toEqual([1, 2, 3]);
  });

  test.each([
    ['Uint8Array subarray', () => new Uint8Array([0, 1, 2, 3, 4, 5]).subarray(1, 4), [1, 2, 3]],
    ['DataView with offset', () => new DataView(new Uint8Array([0, 1, 2, 3, 4, 5]).buffer, 4, 2), [4, 5]],
    ['Uint16Array', () => new Uint16Array([0x0201, 0x0403]), [1, 2, 3, 4]], // little-endian machine
    ['Float64Array', () => new Float64Array([0]), [0, 0, 0, 0, 0, 0, 0, 0]],
    ['Buffer', () => Buffer.from('hi'), [104, 105]],
    ['empty view', () => new Uint8Array(new ArrayBuffer(4), 4), []],
  ])('a %s becomes exactly its bytes', (_name, make, expected) => {
    const view = (make as () => ArrayBufferView)();
    const out = toSendData(view);
    expect(out.kind).toBe('bytes');
    expect([...(out.value as Uint8Array)]).toEqual(expected);
  });

  test('a detached ArrayBuffer, a typed array and a DataView on one, are empty bytes', () => {
    const buffer = new ArrayBuffer(8);
    const typed = new Uint8Array(buffer, 1, 2);
    const view = new DataView(buffer, 2, 3);
    structuredClone(buffer, { transfer: [buffer] });
    for (const value of [buffer, typed, view]) {
      const out = toSendData(value);
      expect(out.kind).toBe('bytes');
      expect((out.value as Uint8Array).length).toBe(0);
    }
  });

  test('a SharedArrayBuffer or a view on one is a TypeError', () => {
    const shared = new SharedArrayBuffer(4);
    expect(() => toSendData(shared)).toThrow(TypeError);
    expect(() => toSendData(new Uint8Array(shared))).toThrow(TypeError);
    expect(() => toSendData(new DataView(shared))).toThrow(TypeError);
  });

  test('a resizable ArrayBuffer (where the runtime has them) is a TypeError; otherwise it is a plain buffer', () => {
    // Node's own realm (where Buffer lives) may have resizable buffers when jest's does not.
    const Ctor = Buffer.alloc(0).buffer.constructor as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer;
    const buffer = new Ctor(4, { maxByteLength: 8 });
    if ((buffer as { resizable?: boolean }).resizable === true) {
      expect(() => toSendData(buffer)).toThrow(TypeError);
      expect(() => toSendData(new Uint8Array(buffer))).toThrow(TypeError);
    } else {
      expect((toSendData(buffer).value as Uint8Array).length).toBe(4);
    }
  });

  test('anything else is text, converted with ToString (no lone-surrogate fix here: UTF-8 encoding does it)', () => {
    expect(toSendData('s')).toEqual({ kind: 'text', value: 's' });
    expect(toSendData(12)).toEqual({ kind: 'text', value: '12' });
    expect(toSendData(null)).toEqual({ kind: 'text', value: 'null' });
    expect(toSendData({ toString: () => 'obj' })).toEqual({ kind: 'text', value: 'obj' });
    expect(toSendData({ size: 3, type: '', arrayBuffer: () => null })).toEqual({ kind: 'text', value: '[object Object]' });
    expect(() => toSendData(Symbol('x'))).toThrow(TypeError);
  });
});

describe('error helpers', () => {
  test('illegalInvocation names the interface and the member', () => {
    const e = illegalInvocation('WebSocket', 'url');
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toContain('WebSocket.url');
  });

  test('missingArguments says how many are required and how many came', () => {
    const e = missingArguments('WebSocket', 'send', 1, 0);
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toMatch(/'send' on 'WebSocket'.*1 argument required, but only 0 present/);
  });
});

describe('defineInterface', () => {
  function makeInterface(): { new (): object; prototype: object } {
    class Thing {
      #secret = 1;
      get value(): number {
        return this.#secret;
      }
      set value(v: number) {
        this.#secret = v;
      }
      act(_a?: number, _b?: number): void {}
    }
    defineInterface(Thing, { constants: { ONE: 1, TWO: 2 }, operationLengths: { act: 1 } });
    return Thing;
  }

  test('makes accessors and methods enumerable, keeping them configurable', () => {
    const { prototype } = makeInterface();
    expect(Object.getOwnPropertyDescriptor(prototype, 'value')).toMatchObject({ enumerable: true, configurable: true });
    expect(Object.getOwnPropertyDescriptor(prototype, 'act')).toMatchObject({ enumerable: true, configurable: true, writable: true });
    expect(Object.getOwnPropertyDescriptor(prototype, 'constructor')?.enumerable).toBe(false);
  });

  test('sets operation lengths to the count of required arguments', () => {
    const { prototype } = makeInterface();
    const act = (prototype as { act: () => void }).act;
    expect(act.length).toBe(1);
    expect(Object.getOwnPropertyDescriptor(act, 'length')).toEqual({ value: 1, writable: false, enumerable: false, configurable: true });
  });

  test('defines constants on the constructor and the prototype as read-only, enumerable, non-configurable', () => {
    const Thing = makeInterface();
    for (const holder of [Thing, Thing.prototype]) {
      expect(Object.getOwnPropertyDescriptor(holder, 'TWO')).toEqual({ value: 2, writable: false, enumerable: true, configurable: false });
    }
  });

  test('adds Symbol.toStringTag with the class name', () => {
    const Thing = makeInterface();
    expect(Object.prototype.toString.call(new Thing())).toBe('[object Thing]');
    expect(Object.getOwnPropertyDescriptor(Thing.prototype, Symbol.toStringTag)).toEqual({
      value: 'Thing',
      writable: false,
      enumerable: false,
      configurable: true,
    });
  });
});
