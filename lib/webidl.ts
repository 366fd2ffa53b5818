/**
 * The few WebIDL conversions and interface-object rules the WebSocket API needs.
 * @see https://webidl.spec.whatwg.org/#es-type-mapping
 */
import { Blob } from 'node:buffer';
import * as types from 'node:util/types';

/** WebIDL `DOMString`: ToString, which throws a TypeError for symbols. @see https://webidl.spec.whatwg.org/#es-DOMString */
export function toDOMString(value: unknown): string {
  return typeof value === 'string' ? value : `${value as string}`;
}

/**
 * WebIDL `USVString`: a DOMString with lone surrogates replaced by U+FFFD.
 * @see https://webidl.spec.whatwg.org/#es-USVString
 */
export function toUSVString(value: unknown): string {
  const s = toDOMString(value);
  return isWellFormed(s) ? s : toWellFormed(s);
}

const nativeToWellFormed = (String.prototype as { toWellFormed?: () => string }).toWellFormed;

function isWellFormed(s: string): boolean {
  // Lone surrogates are rare; one regex test is the cheap common path on every Node version.
  return !/[\uD800-\uDFFF]/.test(s) || s === toWellFormed(s);
}

function toWellFormed(s: string): string {
  if (nativeToWellFormed !== undefined) return nativeToWellFormed.call(s);
  return s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/**
 * WebIDL `[Clamp] unsigned short`.
 * @see https://webidl.spec.whatwg.org/#abstract-opdef-converttoint
 */
export function toClampedUnsignedShort(value: unknown): number {
  // Unary plus is ToNumber: a TypeError for Symbols and BigInts, also those an object's valueOf
  // returns (Number() would convert a BigInt instead).
  let x = +(value as number);
  if (Number.isNaN(x)) return 0;
  x = Math.min(Math.max(x, 0), 0xffff);
  // Round half to even, +0 rather than -0.
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5 || (diff === 0.5 && floor % 2 === 1)) return floor + 1;
  return floor === 0 ? 0 : floor;
}

/** WebIDL `unsigned short` (no [Clamp], no [EnforceRange]): ToNumber, truncate, modulo 2^16. */
export function toUnsignedShort(value: unknown): number {
  const x = +(value as number); // ToNumber, as in toClampedUnsignedShort
  if (!Number.isFinite(x)) return 0;
  const t = Math.trunc(x) % 0x10000;
  return t < 0 ? t + 0x10000 : t + 0; // + 0 turns -0 into +0
}

/**
 * WebIDL `[EnforceRange] unsigned short`: a TypeError for NaN, infinities and values outside
 * 0-65535 after truncation. `what` names the value in the message.
 * @see https://webidl.spec.whatwg.org/#abstract-opdef-converttoint
 */
export function toEnforcedUnsignedShort(value: unknown, what: string): number {
  const x = +(value as number); // ToNumber, as in toClampedUnsignedShort
  if (!Number.isFinite(x)) throw new TypeError(`${what} must be a finite number; ${String(x)} is not.`);
  const t = Math.trunc(x);
  if (t < 0 || t > 0xffff) throw new TypeError(`${what} must be between 0 and 65535; ${t} is outside that range.`);
  return t + 0; // + 0 turns -0 into +0
}

/**
 * WebIDL `(DOMString or sequence<DOMString>)`: an object with Symbol.iterator is a sequence,
 * anything else is one string.
 * @see https://webidl.spec.whatwg.org/#es-union
 */
export function toStringOrStringSequence(value: unknown): string[] {
  if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
    const iteratorMethod = (value as { [Symbol.iterator]?: unknown })[Symbol.iterator];
    if (iteratorMethod !== undefined && iteratorMethod !== null) {
      if (typeof iteratorMethod !== 'function') throw new TypeError('protocols: Symbol.iterator is not a function');
      return iterateToStrings(value, iteratorMethod as () => unknown, toDOMString, 'protocols');
    }
  }
  return [toDOMString(value)];
}

/**
 * WebIDL's "create a sequence from an iterable" with the method already looked up: unlike
 * for...of, Symbol.iterator is read once and a failing conversion does not call `return()`.
 * @see https://webidl.spec.whatwg.org/#create-sequence-from-iterable
 */
export function iterateToStrings(iterable: object, method: () => unknown, convert: (value: unknown) => string, what: string): string[] {
  const iterator: unknown = Reflect.apply(method, iterable, []);
  if (iterator === null || (typeof iterator !== 'object' && typeof iterator !== 'function')) {
    throw new TypeError(`${what}: the iterator is not an object`);
  }
  const next = (iterator as { next: unknown }).next;
  const out: string[] = [];
  for (;;) {
    const result: unknown = Reflect.apply(next as () => unknown, iterator, []);
    if (result === null || (typeof result !== 'object' && typeof result !== 'function')) {
      throw new TypeError(`${what}: the iterator result is not an object`);
    }
    if ((result as IteratorResult<unknown>).done) return out;
    out.push(convert((result as IteratorResult<unknown>).value));
  }
}

/**
 * WebIDL `sequence<USVString>`: an iterable object (a string is not one), each value a USVString.
 * `what` names the value in messages.
 * @see https://webidl.spec.whatwg.org/#es-sequence
 */
export function toUSVStringSequence(value: unknown, what: string): string[] {
  if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
    const iteratorMethod = (value as { [Symbol.iterator]?: unknown })[Symbol.iterator];
    if (typeof iteratorMethod === 'function') return iterateToStrings(value, iteratorMethod as () => unknown, toUSVString, what);
  }
  throw new TypeError(`${what} must be a sequence (an iterable object such as an array) of strings.`);
}

/** What `send()` accepts, after conversion. */
export type SendData = { kind: 'text'; value: string } | { kind: 'bytes'; value: Uint8Array } | { kind: 'blob'; value: Blob };

/**
 * WebIDL `(BufferSource or Blob or USVString)`. Shared and resizable buffers are not
 * BufferSources, so they throw; any other object becomes a string.
 * @see https://webidl.spec.whatwg.org/#es-union
 */
export function toSendData(value: unknown): SendData {
  if (typeof value === 'object' && value !== null) {
    if (value instanceof Blob) return { kind: 'blob', value };
    const bytes = toBufferSource(value, 'send()');
    if (bytes !== undefined) return { kind: 'bytes', value: bytes };
  }
  return { kind: 'text', value: toDOMString(value) };
}

/**
 * WebIDL `BufferSource`: a view on the bytes of an ArrayBuffer or ArrayBufferView (not a copy),
 * or `undefined` for any other value. Shared and resizable buffers are not BufferSources: a
 * TypeError naming `member`. A detached buffer holds no bytes.
 * @see https://webidl.spec.whatwg.org/#BufferSource
 */
export function toBufferSource(value: unknown, member: string): Uint8Array | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (types.isArrayBuffer(value)) {
    if ((value as { resizable?: boolean }).resizable === true) throw new TypeError(`${member}: a resizable ArrayBuffer is not allowed`);
    // A detached buffer cannot back a new view.
    return value.byteLength === 0 ? new Uint8Array(0) : new Uint8Array(value);
  }
  if (ArrayBuffer.isView(value)) {
    const buffer = value.buffer;
    if (types.isSharedArrayBuffer(buffer)) throw new TypeError(`${member}: a view on a SharedArrayBuffer is not allowed`);
    if ((buffer as { resizable?: boolean }).resizable === true) throw new TypeError(`${member}: a view on a resizable ArrayBuffer is not allowed`);
    // Checked on the buffer first: a DataView on a detached buffer throws on byteLength.
    if (buffer.byteLength === 0) return new Uint8Array(0);
    return new Uint8Array(buffer, value.byteOffset, value.byteLength);
  }
  if (types.isSharedArrayBuffer(value)) throw new TypeError(`${member}: a SharedArrayBuffer is not allowed; copy it into an ArrayBuffer`);
  return undefined;
}

/** The TypeError a member throws when called on an object that is not of its interface. */
export function illegalInvocation(interfaceName: string, member: string): TypeError {
  return new TypeError(`Illegal invocation: ${interfaceName}.${member} called on an object that is not a ${interfaceName}`);
}

/** The TypeError for a missing required argument. */
export function missingArguments(interfaceName: string, member: string, required: number, given: number): TypeError {
  return new TypeError(
    `Failed to execute '${member}' on '${interfaceName}': ${required} argument${required === 1 ? '' : 's'} required, but only ${given} present.`,
  );
}

/**
 * Gives a class the property shapes WebIDL prescribes: attributes and operations enumerable,
 * constants read-only on the constructor and the prototype, operation lengths counting only
 * required arguments, and a `Symbol.toStringTag`.
 * @see https://webidl.spec.whatwg.org/#es-interfaces
 */
export function defineInterface(
  ctor: { prototype: object; name: string },
  shape: { constants?: Record<string, number>; operationLengths?: Record<string, number> },
): void {
  const proto = ctor.prototype;
  for (const key of Object.getOwnPropertyNames(proto)) {
    if (key === 'constructor') continue;
    const descriptor = Object.getOwnPropertyDescriptor(proto, key) as PropertyDescriptor;
    descriptor.enumerable = true;
    Object.defineProperty(proto, key, descriptor);
  }
  for (const [name, length] of Object.entries(shape.operationLengths ?? {})) {
    Object.defineProperty((proto as Record<string, unknown>)[name], 'length', { value: length });
  }
  for (const [name, value] of Object.entries(shape.constants ?? {})) {
    const descriptor = { value, writable: false, enumerable: true, configurable: false };
    Object.defineProperty(ctor, name, descriptor);
    Object.defineProperty(proto, name, descriptor);
  }
  Object.defineProperty(proto, Symbol.toStringTag, { value: ctor.name, writable: false, enumerable: false, configurable: true });
}
