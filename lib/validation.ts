/**
 * Pure predicates shared by the parser, the handshake and the API.
 * @see RFC 6455 §4.1, §7.4
 */
import * as buffer from 'node:buffer';

/**
 * Whether `code` may appear in a Close frame on the wire: 1000–1003, 1007–1014 and 3000–4999.
 * 1004 is reserved, 1005/1006/1015 are reserved for reporting and must never be sent, 1016–2999
 * belong to future RFCs, and 5000 and above are outside the range RFC 6455 defines.
 * @see RFC 6455 §7.4.1, §7.4.2, and the IANA "WebSocket Close Code Number Registry"
 */
export function isValidWireCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999)
  );
}

/**
 * Whether `code` may be passed to `WebSocket.close()`: 1000 or 3000–4999.
 * @see https://websockets.spec.whatwg.org/#dom-websocket-close
 */
export function isValidApiCloseCode(code: number): boolean {
  return code === 1000 || (code >= 3000 && code <= 4999);
}

// 1 for each byte that is a `tchar` of RFC 7230 §3.2.6: visible ASCII minus the separators.
const TOKEN_CHARS = new Uint8Array(128);
for (let c = 0x21; c < 0x7f; c++) TOKEN_CHARS[c] = 1;
for (const c of '"(),/:;<=>?@[\\]{}') TOKEN_CHARS[c.charCodeAt(0)] = 0;

/**
 * Whether `value` is an HTTP token, the form a `Sec-WebSocket-Protocol` element must take.
 * @see RFC 6455 §4.1 (client requirement 10), RFC 7230 §3.2.6
 */
export function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128 || TOKEN_CHARS[c] === 0) return false;
  }
  return true;
}

/**
 * Byte-by-byte UTF-8 check used where `buffer.isUtf8` is missing (Node < 18.14) and for short
 * inputs, where the native call costs more than the loop. Rejects overlongs, surrogates and
 * code points above U+10FFFF, as the Encoding Standard's decoder does.
 * @see RFC 3629 §4
 */
export function isUtf8Js(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
  let i = start;
  while (i < end) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    const n = utf8SequenceLength(b);
    if (n === 0 || i + n > end) return false;
    if (!isValidContinuation(b, bytes[i + 1], 1)) return false;
    for (let k = 2; k < n; k++) if ((bytes[i + k] & 0xc0) !== 0x80) return false;
    i += n;
  }
  return true;
}

/** Length of the sequence that lead byte `b` starts, or 0 if `b` cannot start one. */
function utf8SequenceLength(b: number): number {
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return 2;
  if (b >= 0xe0 && b <= 0xef) return 3;
  if (b >= 0xf0 && b <= 0xf4) return 4;
  return 0;
}

/**
 * Whether `next` may follow `lead` at position `index` (1-based) of its sequence. Only the second
 * byte has lead-dependent bounds (RFC 3629 §4): they exclude overlongs, surrogates and > U+10FFFF.
 */
function isValidContinuation(lead: number, next: number, index: number): boolean {
  if (index !== 1) return (next & 0xc0) === 0x80;
  switch (lead) {
    case 0xe0:
      return next >= 0xa0 && next <= 0xbf;
    case 0xed:
      return next >= 0x80 && next <= 0x9f;
    case 0xf0:
      return next >= 0x90 && next <= 0xbf;
    case 0xf4:
      return next >= 0x80 && next <= 0x8f;
    default:
      return (next & 0xc0) === 0x80;
  }
}

const nativeIsUtf8: ((input: Uint8Array) => boolean) | undefined = (
  buffer as { isUtf8?: (input: Uint8Array) => boolean }
).isUtf8;

/**
 * Whether `bytes` is entirely valid UTF-8. Uses Node's SIMD validator when present.
 * @see RFC 6455 §8.1
 */
export function isUtf8(bytes: Uint8Array): boolean {
  // Below ~32 bytes the JS loop beats the native call's fixed cost.
  if (nativeIsUtf8 === undefined || bytes.length < 32) return isUtf8Js(bytes);
  return nativeIsUtf8(bytes);
}

const nativeIsAscii: ((input: Uint8Array) => boolean) | undefined = (buffer as { isAscii?: (input: Uint8Array) => boolean })
  .isAscii;

// Before Node 24, Buffer#toString('utf8') runs V8's scalar decoder (180-320 MB/s on multi-byte
// text, Node 18-22); ICU's converter behind buffer.transcode does 0.7-2.7 GB/s from 1 KiB on.
// From Node 24 on, toString uses simdutf and is the faster of the two at every size. transcode
// exists only in builds with ICU.
const transcode = Number(process.versions.node.split('.')[0]) < 24 ? buffer.transcode : undefined;
const TRANSCODE_MIN = 1024;

/**
 * UTF-8 decode (without BOM handling: a leading U+FEFF stays) of bytes already known to be valid
 * UTF-8, by the fastest route this runtime has: ASCII as Latin-1 (a plain copy into a one-byte
 * string), else ICU's transcoder on runtimes whose own decoder is scalar, else Buffer#toString.
 * All give the same string for valid input.
 * @see https://encoding.spec.whatwg.org/#utf-8-decode-without-bom
 */
export function utf8Decode(bytes: Buffer): string {
  const length = bytes.length;
  if (length >= 64 && nativeIsAscii !== undefined && nativeIsAscii(bytes)) return bytes.toString('latin1');
  if (length >= TRANSCODE_MIN && transcode !== undefined) return transcode(bytes, 'utf8', 'utf16le').toString('utf16le');
  return bytes.toString('utf8');
}

/**
 * Validates a UTF-8 stream delivered in pieces of any size, so that an invalid text message fails
 * at the piece holding the first bad byte instead of after the whole message has arrived.
 * Holds at most three bytes of an unfinished sequence between pieces.
 * @see RFC 6455 §8.1 ("invalid UTF-8 ... MUST _Fail the WebSocket Connection_")
 */
export class Utf8StreamValidator {
  // The lead byte of an unfinished sequence, how many bytes it needs in all, and how many it has.
  #lead = 0;
  #need = 0;
  #have = 0;

  /** Feeds the next piece; returns false as soon as the stream can no longer be valid UTF-8. */
  push(bytes: Uint8Array): boolean {
    let i = 0;
    const end = bytes.length;
    // Finish the sequence left open by the previous piece, one byte at a time.
    while (this.#need !== 0 && i < end) {
      if (!isValidContinuation(this.#lead, bytes[i], this.#have)) return false;
      i++;
      if (++this.#have === this.#need) this.#need = 0;
    }
    if (i === end) return true;
    // Find where a sequence left unfinished by this piece starts (at most 3 bytes back).
    let split = end;
    for (let j = end - 1; j >= i && j >= end - 3; j--) {
      const b = bytes[j];
      if ((b & 0xc0) === 0x80) continue;
      const n = utf8SequenceLength(b);
      if (n > 1 && j + n > end) split = j;
      break;
    }
    const whole = i === 0 && split === end ? bytes : bytes.subarray(i, split);
    if (!isUtf8(whole)) return false;
    if (split === end) return true;
    // Check the unfinished tail as far as it goes, so a bad second byte fails now.
    this.#lead = bytes[split];
    this.#need = utf8SequenceLength(this.#lead);
    this.#have = 1;
    for (let k = split + 1; k < end; k++) {
      if (!isValidContinuation(this.#lead, bytes[k], this.#have)) return false;
      this.#have++;
    }
    return true;
  }

  /** Ends the stream; returns false if it stopped inside a sequence. Resets for reuse. */
  end(): boolean {
    const complete = this.#need === 0;
    this.#need = 0;
    this.#have = 0;
    return complete;
  }
}
