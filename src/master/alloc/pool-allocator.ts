// IPv4 allocation inside an endpoint group's ip-pool. The network reserves the
// pool whole (Ipv4Allocator.reservePool); this hands out its addresses, lowest
// first. The bitmap covers the pool only, bit i standing for pool start + i
// (Contiv kept a bitmap of the whole subnet per group).

import { ConflictError, ValidationError } from "../../lib/errors.js";
import { Bitset } from "./bitset.js";
import { expectObject, expectString, loading } from "./corrupt.js";
import { formatIpv4, formatIpv4Range, parseIpv4, tryParseIpv4, tryParseIpv4Range, type Ipv4Range } from "../../lib/ipv4.js";
import { formatRuns } from "./ranges.js";

export interface PoolAllocatorJSON {
  /** "a-b" */
  pool: string;
  /** Bitset.encode() of the pool, one bit per address. */
  bits: string;
}

/** A pool spans at most a /8, the largest network. */
const MAX_POOL_SIZE = 2 ** 24;
const WHAT = "IPv4 pool allocator";

export class PoolAllocator {
  readonly #pool: Ipv4Range;
  readonly #bits: Bitset;

  private constructor(pool: Ipv4Range, bits: Bitset) {
    this.#pool = pool;
    this.#bits = bits;
  }

  /**
   * The pool start..end (inclusive). Reserve it in the network first
   * (Ipv4Allocator.reserveRange), which checks it against the subnet; this
   * only checks its form. ValidationError "invalid ip-pool".
   */
  static create(start: string, end: string = start): PoolAllocator {
    const range = parsePool(`${start}-${end}`);
    return new PoolAllocator(range, new Bitset(range.end - range.start + 1));
  }

  /** Throws CorruptStateError when json is not what toJSON() writes. */
  static fromJSON(json: unknown): PoolAllocator {
    const obj = expectObject(json, WHAT, ["pool", "bits"]);
    const poolText = expectString(obj, "pool", WHAT);
    const bitsText = expectString(obj, "bits", WHAT);
    return loading(WHAT, () => {
      const range = parsePool(poolText);
      return new PoolAllocator(range, Bitset.decode(range.end - range.start + 1, bitsText));
    });
  }

  toJSON(): PoolAllocatorJSON {
    return { pool: this.pool, bits: this.#bits.encode() };
  }

  /** Canonical "a-b". */
  get pool(): string {
    return formatIpv4Range(this.#pool);
  }

  get allocatedCount(): number {
    return this.#bits.count;
  }

  get availableCount(): number {
    return this.#bits.size - this.#bits.count;
  }

  /** Lowest free address of the pool. Throws ConflictError when none is left. */
  allocate(): string {
    const i = this.#bits.nextClear(0);
    if (i < 0) throw new ConflictError(`auto allocation failed - address exhaustion in pool ${this.pool}`);
    this.#bits.set(i);
    return formatIpv4(this.#pool.start + i);
  }

  /** Takes a requested address: ValidationError when outside the pool, ConflictError when taken. */
  reserve(ip: string): void {
    const i = this.#index(ip);
    if (!this.#bits.set(i)) throw new ConflictError(`ip address ${ip} is not available`);
  }

  /** Idempotent: returns false when ip was not allocated. ValidationError when outside the pool. */
  release(ip: string): boolean {
    return this.#bits.clear(this.#index(ip));
  }

  isAllocated(ip: string): boolean {
    const value = tryParseIpv4(ip);
    return value !== undefined && this.contains(ip) && this.#bits.test(value - this.#pool.start);
  }

  contains(ip: string): boolean {
    const value = tryParseIpv4(ip);
    return value !== undefined && value >= this.#pool.start && value <= this.#pool.end;
  }

  /** Contiv's EPG allocatedIPAddresses, e.g. "10.1.1.10-10.1.1.12". */
  allocatedString(): string {
    return this.#format(this.#bits.runs(true));
  }

  /** Contiv's EPG availableIPAddresses (free addresses of the pool). */
  availableString(): string {
    return this.#format(this.#bits.runs(false));
  }

  #format(runs: Iterable<[number, number]>): string {
    const base = this.#pool.start;
    return formatRuns(runs, (i) => formatIpv4(base + i));
  }

  #index(ip: string): number {
    const value = parseIpv4(ip);
    if (value < this.#pool.start || value > this.#pool.end) {
      throw new ValidationError(`ip address ${ip} is not in ip-pool ${this.pool}`);
    }
    return value - this.#pool.start;
  }
}

function parsePool(text: string): Ipv4Range {
  const range = tryParseIpv4Range(text);
  if (!range || range.end - range.start + 1 > MAX_POOL_SIZE) throw new ValidationError(`invalid ip-pool ${text}`);
  return range;
}
