// IPv4 address allocation for one network: a bitmap with one bit per address
// of the CIDR block, bit i standing for network address + i.
//
// As in Contiv, a set bit means "not available", whatever the reason: the
// network and broadcast addresses (for /31 and /32 too), addresses outside the
// range of a range-form subnet, the gateway, EPG ip-pools reserved whole (their
// addresses are then handed out by that group's Ipv4PoolAllocator) and
// endpoint addresses. Unlike Contiv, a requested address must be free: it is
// never handed out twice. The kinds are told apart from the config (subnet,
// gateway, pools), so only the bitmap is stored.

import { ConflictError, ValidationError } from "../../lib/errors.js";
import { Bitset } from "./bitset.js";
import { CorruptStateError, expectObject, expectString, expectStringArray, loading } from "./corrupt.js";
import {
  formatIpv4,
  formatIpv4Range,
  formatIpv4Subnet,
  ipv4SubnetContains,
  parseIpv4,
  parseIpv4Subnet,
  prefixMask,
  tryParseIpv4,
  tryParseIpv4Range,
  type Ipv4Range,
  type Ipv4Subnet,
} from "../../lib/ipv4.js";
import { formatRuns } from "./ranges.js";

export interface Ipv4AllocatorJSON {
  /** Canonical subnet: "10.1.1.0/24" or "10.1.1.10-10.1.1.100/24". */
  subnet: string;
  /** "" when the network has no gateway. */
  gateway: string;
  /** EPG ip-pools reserved in this network, "a-b", ascending. */
  pools: string[];
  /** Bitset.encode() of the whole block. */
  bits: string;
}

const WHAT = "IPv4 allocator";
const JSON_KEYS = ["subnet", "gateway", "pools", "bits"] as const;

export class Ipv4Allocator {
  readonly #subnet: Ipv4Subnet;
  readonly #gateway: number | undefined;
  readonly #pools: Ipv4Range[];
  readonly #bits: Bitset;
  /** Set bits that are not endpoint addresses: network, broadcast, outside the range, gateway, pools. */
  #reservedCount: number;

  private constructor(subnet: Ipv4Subnet, gateway: number | undefined, pools: Ipv4Range[], bits: Bitset) {
    this.#subnet = subnet;
    this.#gateway = gateway;
    this.#pools = pools;
    this.#bits = bits;
    this.#reservedCount = fixedBits(subnet, gateway) + pools.reduce((n, p) => n + p.end - p.start + 1, 0);
  }

  /**
   * subnet: "10.1.1.0/24", or Contiv's range form "10.1.1.10-10.1.1.100/24".
   * gateway: reserved for the network's gateway; "" or undefined for none.
   * Throws ValidationError for a bad subnet or a gateway outside it.
   */
  static create(subnetText: string, gatewayText = ""): Ipv4Allocator {
    const subnet = parseIpv4Subnet(subnetText);
    const gateway = parseGateway(subnet, gatewayText);
    const size = blockSize(subnet);
    const bits = new Bitset(size);
    if (subnet.first > subnet.network) bits.setRange(0, subnet.first - subnet.network - 1);
    if (subnet.last < subnet.broadcast) bits.setRange(subnet.last - subnet.network + 1, size - 1);
    bits.set(0);
    bits.set(size - 1);
    if (gateway !== undefined) bits.set(gateway - subnet.network);
    return new Ipv4Allocator(subnet, gateway, [], bits);
  }

  /** Throws CorruptStateError when json is not what toJSON() writes. */
  static fromJSON(json: unknown): Ipv4Allocator {
    const obj = expectObject(json, WHAT, JSON_KEYS);
    const subnetText = expectString(obj, "subnet", WHAT);
    const gatewayText = expectString(obj, "gateway", WHAT);
    const poolTexts = expectStringArray(obj, "pools", WHAT);
    const bitsText = expectString(obj, "bits", WHAT);
    return loading(WHAT, () => {
      const subnet = parseIpv4Subnet(subnetText);
      const gateway = parseGateway(subnet, gatewayText);
      const size = blockSize(subnet);
      const bits = Bitset.decode(size, bitsText);
      const allSet = (from: number, to: number) => {
        const clear = bits.nextClear(from);
        return clear < 0 || clear > to;
      };
      if (!bits.test(0) || !bits.test(size - 1) || !allSet(0, subnet.first - subnet.network - 1)
        || !allSet(subnet.last - subnet.network + 1, size - 1)) {
        throw new CorruptStateError(`Cannot load ${WHAT}: reserved addresses of ${subnetText} are not marked`);
      }
      if (gateway !== undefined && !bits.test(gateway - subnet.network)) {
        throw new CorruptStateError(`Cannot load ${WHAT}: gateway ${gatewayText} is not marked`);
      }
      const pools: Ipv4Range[] = [];
      for (const text of poolTexts) {
        const pool = tryParseIpv4Range(text);
        const prev = pools[pools.length - 1];
        if (!pool || pool.start <= subnet.network || pool.end >= subnet.broadcast || pool.start < subnet.first
          || pool.end > subnet.last || (prev && pool.start <= prev.end)
          || (gateway !== undefined && gateway >= pool.start && gateway <= pool.end)) {
          throw new CorruptStateError(`Cannot load ${WHAT}: bad pool "${text}"`);
        }
        if (!allSet(pool.start - subnet.network, pool.end - subnet.network)) {
          throw new CorruptStateError(`Cannot load ${WHAT}: pool ${text} is not marked`);
        }
        pools.push(pool);
      }
      return new Ipv4Allocator(subnet, gateway, pools, bits);
    });
  }

  toJSON(): Ipv4AllocatorJSON {
    const s = this.#subnet;
    const ranged = s.first !== s.network || s.last !== s.broadcast;
    return {
      subnet: ranged ? `${formatIpv4(s.first)}-${formatIpv4(s.last)}/${s.prefixLen}` : formatIpv4Subnet(s),
      gateway: this.gateway,
      pools: this.pools,
      bits: this.#bits.encode(),
    };
  }

  /** "10.1.1.0/24" (network address, whatever the range). */
  get subnet(): string {
    return formatIpv4Subnet(this.#subnet);
  }

  /** Network address, Contiv's subnetIP. */
  get subnetAddress(): string {
    return formatIpv4(this.#subnet.network);
  }

  get prefixLen(): number {
    return this.#subnet.prefixLen;
  }

  /** Contiv's ipAddrRange: "first-last" of the allocatable range (the whole block for a plain subnet). */
  get addressRange(): string {
    return formatIpv4Range({ start: this.#subnet.first, end: this.#subnet.last });
  }

  /** "" when none. */
  get gateway(): string {
    return this.#gateway === undefined ? "" : formatIpv4(this.#gateway);
  }

  /** Reserved EPG ip-pools, "a-b", ascending. */
  get pools(): string[] {
    return this.#pools.map(formatIpv4Range);
  }

  /** Endpoint addresses (allocated or reserved), not counting the gateway or pools. */
  get allocatedCount(): number {
    return this.#bits.count - this.#reservedCount;
  }

  /** Addresses that allocate() or reserve() could still hand out. */
  get availableCount(): number {
    return this.#bits.size - this.#bits.count;
  }

  /** Lowest free address. Throws ConflictError when none is left. */
  allocate(): string {
    const i = this.#bits.nextClear(0);
    if (i < 0) {
      throw new ConflictError(`auto allocation failed - address exhaustion in subnet ${this.subnet}`);
    }
    this.#bits.set(i);
    return formatIpv4(this.#subnet.network + i);
  }

  /**
   * Takes a requested address. ValidationError when it is not an IPv4 address
   * of this subnet; ConflictError when it is taken or reserved.
   */
  reserve(ip: string): void {
    const i = this.#index(ip);
    if (this.#bits.test(i)) throw new ConflictError(`ip address ${ip} is not available`);
    this.#bits.set(i);
  }

  /**
   * Frees an endpoint address. Idempotent: returns false when it was not
   * allocated, and never frees the gateway, pools or reserved addresses.
   * ValidationError when ip is not an address of this subnet.
   */
  release(ip: string): boolean {
    const i = this.#index(ip);
    if (this.#isReserved(i)) return false;
    return this.#bits.clear(i);
  }

  /** True when ip is an endpoint address of this network (not gateway, pool or reserved). */
  isAllocated(ip: string): boolean {
    const i = this.#tryIndex(ip);
    return i !== undefined && this.#bits.test(i) && !this.#isReserved(i);
  }

  /** The lowest address at or above `from` that reserve() would take, if any. ValidationError outside the subnet. */
  nextAvailable(from: string): string | undefined {
    const i = this.#bits.nextClear(this.#index(from));
    return i < 0 ? undefined : formatIpv4(this.#subnet.network + i);
  }

  /** True when reserve(ip) would succeed. */
  isAvailable(ip: string): boolean {
    const i = this.#tryIndex(ip);
    return i !== undefined && !this.#bits.test(i);
  }

  /**
   * Reserves an EPG ip-pool "a-b" whole. ValidationError (Contiv's texts) for a
   * malformed pool or one outside the subnet; ConflictError naming the first
   * address that is not free. Returns the canonical "a-b".
   */
  reservePool(pool: string): string {
    const range = this.#parsePool(pool);
    const base = this.#subnet.network;
    const taken = this.#bits.nextSet(range.start - base);
    if (taken >= 0 && taken <= range.end - base) {
      throw new ConflictError(`ip address ${formatIpv4(base + taken)} is not available`);
    }
    this.#bits.setRange(range.start - base, range.end - base);
    const at = this.#pools.findIndex((p) => p.start > range.start);
    this.#pools.splice(at < 0 ? this.#pools.length : at, 0, range);
    this.#reservedCount += range.end - range.start + 1;
    return formatIpv4Range(range);
  }

  /** reservePool(`${start}-${end}`). */
  reserveRange(start: string, end: string): string {
    return this.reservePool(`${start}-${end}`);
  }

  /** Returns a reserved pool to the network. Idempotent: false when no such pool is reserved. */
  releasePool(pool: string): boolean {
    const range = tryParseIpv4Range(pool);
    if (!range) throw new ValidationError(`invalid ip-pool ${pool}`);
    const at = this.#pools.findIndex((p) => p.start === range.start && p.end === range.end);
    if (at < 0) return false;
    this.#pools.splice(at, 1);
    this.#bits.clearRange(range.start - this.#subnet.network, range.end - this.#subnet.network);
    this.#reservedCount -= range.end - range.start + 1;
    return true;
  }

  /** releasePool(`${start}-${end}`). */
  releaseRange(start: string, end: string): boolean {
    return this.releasePool(`${start}-${end}`);
  }

  /**
   * Contiv's allocatedIPAddresses: endpoints, gateway and pools within the
   * range, e.g. "10.1.1.1-10.1.1.3, 10.1.1.254".
   */
  allocatedString(): string {
    const s = this.#subnet;
    const size = this.#bits.size;
    const from = Math.max(s.first - s.network, 1);
    const to = Math.min(s.last - s.network, size - 2);
    return this.#format(this.#bits.runs(true, from, to));
  }

  /** Contiv's availableIPAddresses, e.g. "10.1.1.2-10.1.1.253". */
  availableString(): string {
    return this.#format(this.#bits.runs(false));
  }

  #format(runs: Iterable<[number, number]>): string {
    const base = this.#subnet.network;
    return formatRuns(runs, (i) => formatIpv4(base + i));
  }

  #isReserved(i: number): boolean {
    const s = this.#subnet;
    const ip = s.network + i;
    if (ip < s.first || ip > s.last || ip === s.network || ip === s.broadcast || ip === this.#gateway) return true;
    return this.#pools.some((p) => ip >= p.start && ip <= p.end);
  }

  #tryIndex(ip: string): number | undefined {
    const value = tryParseIpv4(ip);
    if (value === undefined || !ipv4SubnetContains(this.#subnet, value)) return undefined;
    return value - this.#subnet.network;
  }

  #index(ip: string): number {
    const value = parseIpv4(ip);
    if (!ipv4SubnetContains(this.#subnet, value)) {
      throw new ValidationError(`hostIP ${ip} is exceeding beyond subnet ${this.subnet}`);
    }
    return value - this.#subnet.network;
  }

  #parsePool(pool: string): Ipv4Range {
    if (pool.includes(":")) throw new ValidationError("ipv6 address pool is not supported for Endpoint Groups");
    const range = tryParseIpv4Range(pool);
    // Contiv checks the pool against the block of its first address first…
    const mask = prefixMask(this.#subnet.prefixLen);
    if (!range || (range.start & mask) !== (range.end & mask)) {
      throw new ValidationError(`invalid ip-pool ${pool}`);
    }
    // …and only then against the network.
    if (!ipv4SubnetContains(this.#subnet, range.start)) {
      throw new ValidationError(`bad ip-pool ${pool}, EPG ip-pool must be a subset of network ${this.subnet}`);
    }
    return range;
  }
}

function blockSize(subnet: Ipv4Subnet): number {
  return 2 ** (32 - subnet.prefixLen);
}

function parseGateway(subnet: Ipv4Subnet, text: string): number | undefined {
  if (text === "") return undefined;
  const value = tryParseIpv4(text);
  if (value === undefined) throw new ValidationError(`invalid gateway ${text}`);
  if (!ipv4SubnetContains(subnet, value)) {
    throw new ValidationError(`hostIP ${text} is exceeding beyond subnet ${formatIpv4Subnet(subnet)}`);
  }
  return value;
}

/** How many bits create() sets before any pool or endpoint. */
function fixedBits(s: Ipv4Subnet, gateway: number | undefined): number {
  let n = blockSize(s) - (s.last - s.first + 1);
  if (s.first === s.network) n++;
  if (s.last === s.broadcast && s.broadcast !== s.network) n++;
  if (gateway !== undefined && gateway >= s.first && gateway <= s.last && gateway !== s.network
    && gateway !== s.broadcast) n++;
  return n;
}
