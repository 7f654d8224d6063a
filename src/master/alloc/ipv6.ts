// Address allocation for a network's ipv6Subnet.
//
// A subnet can hold 2^64 hosts or more, so there is no bitmap: the allocator
// keeps the set of host ids in use (host id = address - network address) and,
// as Contiv's GetNextIPv6HostID, hands out the next free id after the last one
// it handed out, wrapping round and never giving the all-zero host id (the
// subnet-router anycast address). Space is O(addresses in use); the stored
// form groups consecutive ids into runs. Contiv released IPv6 addresses using
// the IPv4 subnet fields, so they were never freed; release() here uses the
// IPv6 subnet.

import { ConflictError, ValidationError } from "../../lib/errors.js";
import { formatIpv6, formatIpv6Subnet, parseIpv6, parseIpv6Subnet, tryParseIpv6, type Ipv6Subnet } from "../../lib/ipv6.js";
import { CorruptStateError, expectObject, expectString, expectStringArray, loading } from "./corrupt.js";
import { formatRuns, runsOf } from "./ranges.js";

export interface Ipv6AllocatorJSON {
  /** Canonical "2001:db8::/64". */
  subnet: string;
  /** "" when none. */
  gateway: string;
  /** Host id (decimal) of the last auto-allocated address; "0" before the first. */
  lastHost: string;
  /** Host ids (decimal) in use, not counting the gateway: runs "a-b" or "a", ascending. */
  allocated: string[];
}

/** Bounds the memory a stored value can make fromJSON() use. */
const MAX_ALLOCATED = 2 ** 24;
const WHAT = "IPv6 allocator";
const RUN = /^(0|[1-9][0-9]*)(?:-(0|[1-9][0-9]*))?$/;

export class Ipv6Allocator {
  readonly #subnet: Ipv6Subnet;
  /** 2^(128 - prefixLen): host ids are 0..size-1. */
  readonly #size: bigint;
  readonly #gateway: bigint | undefined;
  readonly #allocated: Set<bigint>;
  #lastHost: bigint;

  private constructor(subnet: Ipv6Subnet, gateway: bigint | undefined, allocated: Set<bigint>, lastHost: bigint) {
    this.#subnet = subnet;
    this.#size = 1n << BigInt(128 - subnet.prefixLen);
    this.#gateway = gateway;
    this.#allocated = allocated;
    this.#lastHost = lastHost;
  }

  /**
   * subnet: "2001:db8::/64"; gateway: reserved for the network's IPv6 gateway,
   * "" or undefined for none. Throws ValidationError for a bad subnet or a
   * gateway outside it.
   */
  static create(subnetText: string, gatewayText = ""): Ipv6Allocator {
    const subnet = parseIpv6Subnet(subnetText);
    return new Ipv6Allocator(subnet, hostIdOfGateway(subnet, gatewayText), new Set(), 0n);
  }

  /** Throws CorruptStateError when json is not what toJSON() writes. */
  static fromJSON(json: unknown): Ipv6Allocator {
    const obj = expectObject(json, WHAT, ["subnet", "gateway", "lastHost", "allocated"]);
    const subnetText = expectString(obj, "subnet", WHAT);
    const gatewayText = expectString(obj, "gateway", WHAT);
    const lastHostText = expectString(obj, "lastHost", WHAT);
    const runs = expectStringArray(obj, "allocated", WHAT);
    return loading(WHAT, () => {
      const subnet = parseIpv6Subnet(subnetText);
      const gateway = hostIdOfGateway(subnet, gatewayText);
      const size = 1n << BigInt(128 - subnet.prefixLen);
      const bad = (detail: string) => new CorruptStateError(`Cannot load ${WHAT}: ${detail}`);
      if (!RUN.test(lastHostText) || BigInt(lastHostText) >= size) throw bad(`bad lastHost "${lastHostText}"`);
      const allocated = new Set<bigint>();
      let prevEnd = 0n;
      for (const run of runs) {
        const m = RUN.exec(run);
        const start = m ? BigInt(m[1]!) : 0n;
        const end = m?.[2] === undefined ? start : BigInt(m[2]);
        if (!m || start <= prevEnd || end < start || end >= size) throw bad(`bad run "${run}"`);
        if (BigInt(allocated.size) + end - start + 1n > BigInt(MAX_ALLOCATED)) throw bad("too many host ids");
        for (let id = start; id <= end; id++) {
          if (id === gateway) throw bad(`host id ${id} is the gateway`);
          allocated.add(id);
        }
        prevEnd = end;
      }
      return new Ipv6Allocator(subnet, gateway, allocated, BigInt(lastHostText));
    });
  }

  toJSON(): Ipv6AllocatorJSON {
    const runs = formatRuns(runsOf(this.#sortedIds(false)));
    return {
      subnet: this.subnet,
      gateway: this.gateway,
      lastHost: this.#lastHost.toString(),
      allocated: runs === "" ? [] : runs.split(", "),
    };
  }

  get subnet(): string {
    return formatIpv6Subnet(this.#subnet);
  }

  get prefixLen(): number {
    return this.#subnet.prefixLen;
  }

  /** "" when none. */
  get gateway(): string {
    return this.#gateway === undefined ? "" : formatIpv6(this.#subnet.network + this.#gateway);
  }

  /** Endpoint addresses in use, not counting the gateway. */
  get allocatedCount(): number {
    return this.#allocated.size;
  }

  /**
   * Next free address after the last one handed out, wrapping round; never
   * host id 0. Throws ConflictError when none is left.
   */
  allocate(): string {
    const hosts = this.#size - 1n;
    const gatewayTakesHost = this.#gateway !== undefined && this.#gateway !== 0n ? 1n : 0n;
    if (BigInt(this.#allocated.size) + gatewayTakesHost >= hosts || this.#allocated.size >= MAX_ALLOCATED) {
      throw new ConflictError(`auto allocation failed - address exhaustion in subnet ${this.subnet}`);
    }
    // Each step passes an id in use, so this ends within allocatedCount + 2 steps.
    let id = this.#lastHost + 1n;
    for (;;) {
      if (id >= this.#size) id = 1n;
      if (id !== this.#gateway && !this.#allocated.has(id)) break;
      id++;
    }
    this.#allocated.add(id);
    this.#lastHost = id;
    return formatIpv6(this.#subnet.network + id);
  }

  /** Takes a requested address: ValidationError when outside the subnet, ConflictError when taken. */
  reserve(ip: string): void {
    const id = this.#hostId(ip);
    if (id === 0n || id === this.#gateway || this.#allocated.has(id)) {
      throw new ConflictError(`ip address ${ip} is not available`);
    }
    if (this.#allocated.size >= MAX_ALLOCATED) {
      throw new ConflictError(`auto allocation failed - address exhaustion in subnet ${this.subnet}`);
    }
    this.#allocated.add(id);
  }

  /**
   * Idempotent: false when ip was not allocated (the gateway is never
   * released). ValidationError when outside the subnet.
   */
  release(ip: string): boolean {
    return this.#allocated.delete(this.#hostId(ip));
  }

  isAllocated(ip: string): boolean {
    const value = tryParseIpv6(ip);
    if (value === undefined) return false;
    const id = value - this.#subnet.network;
    return id >= 0n && id < this.#size && this.#allocated.has(id);
  }

  /** Endpoints and gateway, e.g. "2001:db8::1-2001:db8::3". */
  allocatedString(): string {
    return this.#format(runsOf(this.#sortedIds(true)));
  }

  /** Everything else except host id 0, e.g. "2001:db8::4-2001:db8::ffff:ffff:ffff:ffff". */
  availableString(): string {
    return this.#format(this.#freeRuns());
  }

  *#freeRuns(): Generator<[bigint, bigint]> {
    let next = 1n;
    for (const [start, end] of runsOf(this.#sortedIds(true))) {
      if (end < next) continue;
      if (start > next) yield [next, start - 1n];
      next = end + 1n;
    }
    if (next <= this.#size - 1n) yield [next, this.#size - 1n];
  }

  #sortedIds(withGateway: boolean): bigint[] {
    const ids = [...this.#allocated];
    if (withGateway && this.#gateway !== undefined) ids.push(this.#gateway);
    return ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  #format(runs: Iterable<[bigint, bigint]>): string {
    const base = this.#subnet.network;
    return formatRuns(runs, (id) => formatIpv6(base + id));
  }

  #hostId(ip: string): bigint {
    const value = parseIpv6(ip);
    const id = value - this.#subnet.network;
    if (id < 0n || id >= this.#size) {
      throw new ValidationError(`hostIP ${ip} is exceeding beyond subnet ${this.subnet}`);
    }
    return id;
  }
}

function hostIdOfGateway(subnet: Ipv6Subnet, text: string): bigint | undefined {
  if (text === "") return undefined;
  const value = tryParseIpv6(text);
  if (value === undefined) throw new ValidationError(`invalid ipv6 gateway ${text}`);
  const id = value - subnet.network;
  if (id < 0n || id >= 1n << BigInt(128 - subnet.prefixLen)) {
    throw new ValidationError(`hostIP ${text} is exceeding beyond subnet ${formatIpv6Subnet(subnet)}`);
  }
  return id;
}
