// A fixed-size bitset with fast searches for the next clear or set bit.
//
// Design note: allocators hand out the lowest free id, so the hot query is
// "first clear bit at or after i" in a set that fills from the bottom. Three
// things keep it flat as the set fills:
//   - two summary bitsets, one bit per 32-bit word: "word is full" and "word is
//     non-empty", so a search skips 1024 bits per summary word it reads;
//   - a floor below which every bit is known to be set, raised by searches
//     and lowered by clears, so repeated "lowest free" queries are O(1)
//     amortised while the set fills up;
//   - the population count is kept up to date on every change, never recounted.
//
// Serialised form: bit i is bit (i % 8) of byte (i / 8), little-endian bit
// order, independent of the platform's word order. `encode()` deflates that
// (a /8 network is a 2 MiB bitmap, mostly zeros) and `decode()` reads it back.

import { deflateRawSync, inflateRawSync } from "node:zlib";

const FULL = 0xffffffff;
const MAX_SIZE = 2 ** 31;
const COMPRESSED_PREFIX = "z:";

function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Index of the lowest set bit of a non-zero 32-bit value. */
function lowestBit(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Lowest index i in [from, limit) whose bit is set in summary (or clear, when invert), else -1. */
function scanSummary(summary: Uint32Array, from: number, limit: number, invert: boolean): number {
  if (from >= limit) return -1;
  let s = from >>> 5;
  let word = (invert ? ~summary[s]! : summary[s]!) & (FULL << (from & 31));
  const last = (limit - 1) >>> 5;
  for (;;) {
    if (word !== 0) {
      const i = (s << 5) + lowestBit(word);
      return i < limit ? i : -1;
    }
    if (++s > last) return -1;
    word = invert ? ~summary[s]! : summary[s]!;
  }
}

export class Bitset {
  readonly size: number;
  readonly #words: Uint32Array;
  readonly #full: Uint32Array;
  readonly #nonEmpty: Uint32Array;
  readonly #lastMask: number;
  #count = 0;
  /** Every bit below the floor is set. */
  #floor = 0;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 0 || size > MAX_SIZE) {
      throw new RangeError(`Cannot create bitset: size ${size} is not an integer in 0..${MAX_SIZE}`);
    }
    this.size = size;
    const nWords = Math.ceil(size / 32);
    this.#words = new Uint32Array(nWords);
    this.#full = new Uint32Array(Math.ceil(nWords / 32));
    this.#nonEmpty = new Uint32Array(Math.ceil(nWords / 32));
    this.#lastMask = size % 32 === 0 ? FULL : ((1 << (size % 32)) - 1) >>> 0;
  }

  /** Number of set bits. */
  get count(): number {
    return this.#count;
  }

  test(i: number): boolean {
    this.#check(i);
    return (this.#words[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  /** Sets bit i; returns true when it was clear. */
  set(i: number): boolean {
    this.#check(i);
    const w = i >>> 5;
    const bit = 1 << (i & 31);
    const old = this.#words[w]!;
    if (old & bit) return false;
    this.#words[w] = old | bit;
    this.#count++;
    this.#summarise(w);
    return true;
  }

  /** Clears bit i; returns true when it was set. */
  clear(i: number): boolean {
    this.#check(i);
    const w = i >>> 5;
    const bit = 1 << (i & 31);
    const old = this.#words[w]!;
    if (!(old & bit)) return false;
    this.#words[w] = old & ~bit;
    this.#count--;
    this.#summarise(w);
    if (i < this.#floor) this.#floor = i;
    return true;
  }

  /** Sets bits from..to (inclusive); returns how many were clear. */
  setRange(from: number, to: number): number {
    return this.#applyRange(from, to, true);
  }

  /** Clears bits from..to (inclusive); returns how many were set. */
  clearRange(from: number, to: number): number {
    return this.#applyRange(from, to, false);
  }

  /** Lowest clear bit at or after from, or -1. */
  nextClear(from = 0): number {
    if (from < 0) from = 0;
    const start = Math.max(from, this.#floor);
    const found = this.#next(start, false);
    // Bits in [floor, found) are set (or from <= floor and nothing was skipped).
    if (from <= this.#floor) this.#floor = found < 0 ? this.size : found;
    return found;
  }

  /** Lowest set bit at or after from, or -1. */
  nextSet(from = 0): number {
    if (from < 0) from = 0;
    return this.#next(from, true);
  }

  /** Runs of bits equal to value within from..to (inclusive), as [start, end] pairs, in order. */
  *runs(value: boolean, from = 0, to = this.size - 1): Generator<[number, number]> {
    let i = Math.max(0, from);
    const stop = Math.min(to, this.size - 1);
    while (i <= stop) {
      const start = value ? this.nextSet(i) : this.nextClear(i);
      if (start < 0 || start > stop) return;
      const after = value ? this.nextClear(start) : this.nextSet(start);
      const end = after < 0 || after > stop + 1 ? stop : after - 1;
      yield [start, end];
      i = end + 1;
    }
  }

  /** A copy with the same size and bits. */
  clone(): Bitset {
    return Bitset.fromBytes(this.size, this.toBytes());
  }

  toBytes(): Uint8Array {
    const bytes = new Uint8Array(Math.ceil(this.size / 8));
    for (let k = 0; k < bytes.length; k++) {
      bytes[k] = (this.#words[k >>> 2]! >>> ((k & 3) * 8)) & 0xff;
    }
    return bytes;
  }

  /** Throws RangeError when the length is wrong or bits past size are set. */
  static fromBytes(size: number, bytes: Uint8Array): Bitset {
    const b = new Bitset(size);
    if (bytes.length !== Math.ceil(size / 8)) {
      throw new RangeError(`bitmap has ${bytes.length} bytes, expected ${Math.ceil(size / 8)}`);
    }
    for (let k = 0; k < bytes.length; k++) {
      b.#words[k >>> 2] = (b.#words[k >>> 2]! | (bytes[k]! << ((k & 3) * 8))) >>> 0;
    }
    const nWords = b.#words.length;
    if (nWords > 0 && (b.#words[nWords - 1]! & ~b.#lastMask) !== 0) {
      throw new RangeError(`bitmap has bits set past its size ${size}`);
    }
    for (let w = 0; w < nWords; w++) {
      b.#count += popcount32(b.#words[w]!);
      b.#summarise(w);
    }
    return b;
  }

  /** Plain base64 of the bytes. */
  toBase64(): string {
    return Buffer.from(this.toBytes()).toString("base64");
  }

  static fromBase64(size: number, text: string): Bitset {
    if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
      throw new RangeError("bitmap is not valid base64");
    }
    return Bitset.fromBytes(size, Buffer.from(text, "base64"));
  }

  /** Compact form for storage: "z:" + base64 of the deflated bytes. */
  encode(): string {
    return COMPRESSED_PREFIX + deflateRawSync(this.toBytes()).toString("base64");
  }

  /** Reads encode() output, or plain base64. Throws RangeError on anything else. */
  static decode(size: number, text: string): Bitset {
    if (!text.startsWith(COMPRESSED_PREFIX)) return Bitset.fromBase64(size, text);
    const body = text.slice(COMPRESSED_PREFIX.length);
    if (body.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(body)) {
      throw new RangeError("bitmap is not valid base64");
    }
    const expected = Math.ceil(size / 8);
    let bytes: Buffer;
    try {
      // The limit stops a corrupt or hostile value from inflating without bound.
      bytes = inflateRawSync(Buffer.from(body, "base64"), { maxOutputLength: Math.max(1, expected) });
    } catch (err) {
      throw new RangeError(`bitmap does not inflate: ${err instanceof Error ? err.message : String(err)}`);
    }
    return Bitset.fromBytes(size, bytes);
  }

  #check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) {
      throw new RangeError(`bit ${i} is outside bitset of size ${this.size}`);
    }
  }

  #mask(w: number): number {
    return w === this.#words.length - 1 ? this.#lastMask : FULL;
  }

  #summarise(w: number): void {
    const v = this.#words[w]!;
    const s = w >>> 5;
    const bit = 1 << (w & 31);
    if (v === this.#mask(w)) this.#full[s]! |= bit;
    else this.#full[s]! &= ~bit;
    if (v !== 0) this.#nonEmpty[s]! |= bit;
    else this.#nonEmpty[s]! &= ~bit;
  }

  #next(from: number, value: boolean): number {
    if (from >= this.size) return -1;
    let w = from >>> 5;
    const first = (value ? this.#words[w]! : ~this.#words[w]!) & this.#mask(w) & (FULL << (from & 31));
    if (first !== 0) return (w << 5) + lowestBit(first);
    // A word with a set bit is "non-empty"; one with a clear bit is "not full".
    w = value
      ? scanSummary(this.#nonEmpty, w + 1, this.#words.length, false)
      : scanSummary(this.#full, w + 1, this.#words.length, true);
    if (w < 0) return -1;
    const word = (value ? this.#words[w]! : ~this.#words[w]!) & this.#mask(w);
    return (w << 5) + lowestBit(word);
  }

  #applyRange(from: number, to: number, value: boolean): number {
    if (from > to) return 0;
    this.#check(from);
    this.#check(to);
    let changed = 0;
    for (let w = from >>> 5; w <= to >>> 5; w++) {
      const lo = w === from >>> 5 ? from & 31 : 0;
      const hi = w === to >>> 5 ? to & 31 : 31;
      const mask = ((FULL << lo) & (FULL >>> (31 - hi))) >>> 0;
      const old = this.#words[w]!;
      const next = value ? (old | mask) >>> 0 : (old & ~mask) >>> 0;
      if (next === old) continue;
      changed += popcount32((old ^ next) >>> 0);
      this.#words[w] = next;
      this.#summarise(w);
    }
    this.#count += value ? changed : -changed;
    if (!value && changed > 0 && from < this.#floor) this.#floor = from;
    return changed;
  }
}
