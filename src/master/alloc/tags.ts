// Cluster-wide packet tags: 802.1Q VLAN ids for VLAN networks, and VXLAN VNIs
// each paired with a local VLAN for VXLAN networks.
//
// As in Contiv, the local VLANs of VXLAN networks (1..4094, one per network,
// cluster-wide) live in their own bitmap, apart from the VLAN ids of VLAN
// networks: the two never collide on the wire. Bitmaps are indexed by the tag
// itself, so a range change keeps every allocation where it is.

import { ConflictError, ValidationError } from "../../lib/errors.js";
import { Bitset } from "./bitset.js";
import { CorruptStateError, expectObject, expectString, loading } from "./corrupt.js";
import { formatRuns } from "./ranges.js";

export type TagKind = "vlan" | "vxlan";

export interface TagRange {
  min: number;
  max: number;
}

const MAX_VLAN = 4095;
const MAX_VXLAN = 65535;
const MAX_VXLAN_WIDTH = 16000;
/** Local VLANs for VXLAN networks. 0 and 4095 are reserved by 802.1Q. */
const LOCAL_VLAN_MIN = 1;
const LOCAL_VLAN_MAX = 4094;
const RANGE = /^\s*([0-9]{1,9})\s*-\s*([0-9]{1,9})\s*$/;

/**
 * Parses a global "vlans"/"vxlans" setting: one "min-max" range, min >= 1,
 * min <= max; vlan max <= 4095 (0 and 4095 are then never handed out); vxlan
 * max <= 65535 and max - min <= 16000. Throws ValidationError (Contiv's texts).
 */
export function parseTagRange(text: string, kind: TagKind): TagRange {
  if (text.includes(",")) throw new ValidationError(`invalid ${kind} range ${text}: only one range is allowed`);
  const m = RANGE.exec(text);
  if (!m) throw new ValidationError(`invalid ${kind} range ${text}: expected "min-max"`);
  const shown = text.trim();
  const min = Number(m[1]);
  const max = Number(m[2]);
  if (min > max) throw new ValidationError(`invalid range ${shown}, min is greater than max`);
  if (min < 1) throw new ValidationError(`invalid range ${shown}, values less than 1`);
  if (kind === "vlan" && max > MAX_VLAN) {
    throw new ValidationError(`invalid range ${shown}, vlan values exceed ${MAX_VLAN} max allowed`);
  }
  if (kind === "vxlan" && max > MAX_VXLAN) {
    throw new ValidationError(`invalid range ${shown}, vxlan values exceed ${MAX_VXLAN} max allowed`);
  }
  if (kind === "vxlan" && max - min > MAX_VXLAN_WIDTH) {
    throw new ValidationError(`does not allow vxlan range to exceed ${MAX_VXLAN_WIDTH} range ${shown}`);
  }
  return { min, max };
}

export function formatTagRange(range: TagRange): string {
  return `${range.min}-${range.max}`;
}

/** Parses a string; checks a TagRange against the same rules. */
function toTagRange(range: TagRange | string, kind: TagKind): TagRange {
  return parseTagRange(typeof range === "string" ? range : formatTagRange(range), kind);
}

/** A requested tag must be a whole number; 0 (or undefined) asks for any. */
function checkRequested(requested: number | undefined, kind: TagKind): number {
  if (requested === undefined) return 0;
  if (!Number.isSafeInteger(requested) || requested < 0) {
    throw new ValidationError(`invalid ${kind} ${requested}: expected a non-negative integer`);
  }
  return requested;
}

/** One kind of tag within a configured range; in-use tags are set bits. */
class TagPool {
  constructor(
    readonly kind: TagKind,
    public range: TagRange,
    readonly bits: Bitset,
    /** Highest tag ever handed out (4094 for VLANs: 4095 is reserved). */
    readonly ceiling: number,
  ) {}

  lowestFree(): number {
    const top = Math.min(this.range.max, this.ceiling);
    const free = this.bits.nextClear(this.range.min);
    return free >= 0 && free <= top ? free : -1;
  }

  inRange(tag: number): boolean {
    return tag >= this.range.min && tag <= Math.min(this.range.max, this.ceiling);
  }

  /** Changes the range when it still holds every tag in use; else ConflictError. */
  setRange(range: TagRange | string): void {
    const next = toTagRange(range, this.kind);
    const lowest = this.bits.nextSet(0);
    if (lowest >= 0) {
      let highest = lowest;
      for (const [, end] of this.bits.runs(true)) highest = end;
      if (next.min > lowest || next.max < highest) {
        throw new ConflictError(`cannot update the ${this.kind} range due to existing ${this.kind}s ${this.inUse()}`);
      }
    }
    this.range = next;
  }

  inUse(): string {
    return formatRuns(this.bits.runs(true));
  }

  /** Every set bit must be a tag of the range. */
  check(what: string): void {
    const first = this.bits.nextSet(0);
    if (first < 0) return;
    let last = first;
    for (const [, end] of this.bits.runs(true)) last = end;
    if (!this.inRange(first) || !this.inRange(last)) {
      throw new CorruptStateError(
        `Cannot load ${what}: ${this.kind}s in use ${this.inUse()} are outside ${formatTagRange(this.range)}`,
      );
    }
  }
}

export interface VlanAllocatorJSON {
  /** "min-max" */
  range: string;
  /** Bitset.encode() of 4096 bits, bit n = VLAN n in use. */
  inUse: string;
}

const VLAN_WHAT = "VLAN allocator";

export class VlanAllocator {
  readonly #pool: TagPool;

  private constructor(pool: TagPool) {
    this.#pool = pool;
  }

  /** range: the global "vlans" setting, e.g. "1-4094" (or parsed). Throws ValidationError. */
  static create(range: TagRange | string): VlanAllocator {
    return new VlanAllocator(new TagPool("vlan", toTagRange(range, "vlan"), new Bitset(MAX_VLAN + 1), LOCAL_VLAN_MAX));
  }

  /** Throws CorruptStateError when json is not what toJSON() writes. */
  static fromJSON(json: unknown): VlanAllocator {
    const obj = expectObject(json, VLAN_WHAT, ["range", "inUse"]);
    const rangeText = expectString(obj, "range", VLAN_WHAT);
    const bitsText = expectString(obj, "inUse", VLAN_WHAT);
    return loading(VLAN_WHAT, () => {
      const bits = Bitset.decode(MAX_VLAN + 1, bitsText);
      const pool = new TagPool("vlan", parseTagRange(rangeText, "vlan"), bits, LOCAL_VLAN_MAX);
      pool.check(VLAN_WHAT);
      return new VlanAllocator(pool);
    });
  }

  toJSON(): VlanAllocatorJSON {
    return { range: this.range, inUse: this.#pool.bits.encode() };
  }

  /** "min-max" */
  get range(): string {
    return formatTagRange(this.#pool.range);
  }

  /** VLANs in use. */
  get count(): number {
    return this.#pool.bits.count;
  }

  /**
   * 0 or undefined: the lowest free VLAN (ConflictError "no vlans available").
   * Otherwise that VLAN, which must be in the range and free (ConflictError).
   */
  allocate(requested?: number): number {
    const want = checkRequested(requested, "vlan");
    if (want === 0) {
      const vlan = this.#pool.lowestFree();
      if (vlan < 0) throw new ConflictError("no vlans available");
      this.#pool.bits.set(vlan);
      return vlan;
    }
    if (!this.#pool.inRange(want) || !this.#pool.bits.set(want)) {
      throw new ConflictError(`requested vlan not available - vlan:${want}`);
    }
    return want;
  }

  /** Idempotent: false when the VLAN was not in use. */
  free(vlan: number): boolean {
    return Number.isInteger(vlan) && vlan >= 0 && vlan <= MAX_VLAN && this.#pool.bits.clear(vlan);
  }

  isInUse(vlan: number): boolean {
    return Number.isInteger(vlan) && vlan >= 0 && vlan <= MAX_VLAN && this.#pool.bits.test(vlan);
  }

  /** Contiv's vlansInUse, e.g. "1-3, 300". */
  inUseString(): string {
    return this.#pool.inUse();
  }

  /**
   * New range from the global "vlans" setting, keeping allocations. Refused
   * (ConflictError) unless it holds every VLAN in use; ValidationError when malformed.
   */
  setRange(range: TagRange | string): void {
    this.#pool.setRange(range);
  }
}

export interface VxlanAllocation {
  vni: number;
  localVlan: number;
}

export interface VxlanAllocatorJSON {
  /** "min-max" */
  range: string;
  /** Bitset.encode() of 65536 bits, bit n = VNI n in use. */
  vnis: string;
  /** Bitset.encode() of 4096 bits, bit n = local VLAN n in use. */
  localVlans: string;
}

const VXLAN_WHAT = "VXLAN allocator";

export class VxlanAllocator {
  readonly #vnis: TagPool;
  readonly #localVlans: Bitset;

  private constructor(vnis: TagPool, localVlans: Bitset) {
    this.#vnis = vnis;
    this.#localVlans = localVlans;
  }

  /** range: the global "vxlans" setting, e.g. "1-10000" (or parsed). Throws ValidationError. */
  static create(range: TagRange | string): VxlanAllocator {
    const vnis = new TagPool("vxlan", toTagRange(range, "vxlan"), new Bitset(MAX_VXLAN + 1), MAX_VXLAN);
    return new VxlanAllocator(vnis, new Bitset(MAX_VLAN + 1));
  }

  /** Throws CorruptStateError when json is not what toJSON() writes. */
  static fromJSON(json: unknown): VxlanAllocator {
    const obj = expectObject(json, VXLAN_WHAT, ["range", "vnis", "localVlans"]);
    const rangeText = expectString(obj, "range", VXLAN_WHAT);
    const vnisText = expectString(obj, "vnis", VXLAN_WHAT);
    const localText = expectString(obj, "localVlans", VXLAN_WHAT);
    return loading(VXLAN_WHAT, () => {
      const bits = Bitset.decode(MAX_VXLAN + 1, vnisText);
      const vnis = new TagPool("vxlan", parseTagRange(rangeText, "vxlan"), bits, MAX_VXLAN);
      vnis.check(VXLAN_WHAT);
      const local = Bitset.decode(MAX_VLAN + 1, localText);
      if (local.test(0) || local.test(MAX_VLAN)) {
        throw new CorruptStateError(`Cannot load ${VXLAN_WHAT}: reserved local VLAN 0 or ${MAX_VLAN} is marked in use`);
      }
      return new VxlanAllocator(vnis, local);
    });
  }

  toJSON(): VxlanAllocatorJSON {
    return { range: this.range, vnis: this.#vnis.bits.encode(), localVlans: this.#localVlans.encode() };
  }

  /** "min-max" */
  get range(): string {
    return formatTagRange(this.#vnis.range);
  }

  /** Contiv's freeVXLANsStart: one below the range. */
  get freeVxlansStart(): number {
    return this.#vnis.range.min - 1;
  }

  /** VNIs in use (= VXLAN networks). */
  get count(): number {
    return this.#vnis.bits.count;
  }

  /**
   * A VNI (0 or undefined: the lowest free one) and a local VLAN, both taken
   * or neither. ConflictError: "requested vxlan is out of range", "requested
   * vxlan not available", "no vxlans available", "no local vlans available".
   */
  allocate(requestedVni?: number): VxlanAllocation {
    const want = checkRequested(requestedVni, "vxlan");
    let vni = want;
    if (want === 0) {
      vni = this.#vnis.lowestFree();
      if (vni < 0) throw new ConflictError("no vxlans available");
    } else if (!this.#vnis.inRange(want)) {
      throw new ConflictError("requested vxlan is out of range");
    } else if (this.#vnis.bits.test(want)) {
      throw new ConflictError("requested vxlan not available");
    }
    const localVlan = this.#localVlans.nextClear(LOCAL_VLAN_MIN);
    if (localVlan < 0 || localVlan > LOCAL_VLAN_MAX) throw new ConflictError("no local vlans available");
    this.#vnis.bits.set(vni);
    this.#localVlans.set(localVlan);
    return { vni, localVlan };
  }

  /**
   * Frees a VNI and its local VLAN (each only if in use, so a half-freed pair
   * left by a bug can still be cleaned up). Idempotent: false when neither was in use.
   */
  free(vni: number, localVlan: number): boolean {
    const vniFreed = this.isInUse(vni) && this.#vnis.bits.clear(vni);
    const vlanFreed = Number.isInteger(localVlan) && localVlan >= LOCAL_VLAN_MIN && localVlan <= LOCAL_VLAN_MAX
      && this.#localVlans.clear(localVlan);
    return vniFreed || vlanFreed;
  }

  isInUse(vni: number): boolean {
    return Number.isInteger(vni) && vni >= 0 && vni <= MAX_VXLAN && this.#vnis.bits.test(vni);
  }

  /** Contiv's vxlansInUse, e.g. "1-3, 300". */
  inUseString(): string {
    return this.#vnis.inUse();
  }

  /** Local VLANs taken by VXLAN networks, same form. */
  localVlansInUseString(): string {
    return formatRuns(this.#localVlans.runs(true));
  }

  /**
   * New range from the global "vxlans" setting, keeping allocations. Refused
   * (ConflictError) unless it holds every VNI in use; ValidationError when malformed.
   */
  setRange(range: TagRange | string): void {
    this.#vnis.setRange(range);
  }
}
