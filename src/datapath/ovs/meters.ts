// Pure: the OpenFlow meters that carry what remains of endpoints' bandwidth limits on the OVS bridge after the
// tbf shapers (shapers.ts): what a container sends where a runtime owns its side of the veth (Docker), so no
// shaper can be put there. Read back from `ovs-ofctl dump-meters`, and the difference between the two. Meters
// are not part of the flow bundle: the driver adds and modifies them before the flows that use them, and
// deletes them after.
//
// A meter is a policer (a drop band), not a shaper with a queue like the Linux driver's tbf: what exceeds the
// rate is dropped at once, so TCP needs a deeper bucket to reach the rate (see meterBurstBytes).

import { defaultBurst } from "../linux/render.js";
import type { DesiredEndpoint } from "../types.js";
import { METER_BASE, METER_LAST } from "./layout.js";
import { shapesContainerSide } from "./shapers.js";

export interface Meter {
  id: number;
  /** Rate in kbit/s (1000 bit/s). */
  kbps: number;
  /** Bucket depth in kbit. */
  burstKb: number;
}

/**
 * The meter of what an endpoint's port sends: from the port's OpenFlow number, which OVS keeps unique on the
 * bridge and stable while the port exists (also across ovs-vswitchd restarts: it is stored in the database).
 * METER_BASE + 2·ofport (the odd ids above were meters of what a container receives, now a tbf: a bridge that
 * still has them has them removed as ours and unwanted).
 */
export function meterId(ofport: number): number {
  return METER_BASE + 2 * ofport;
}

/** True for ids in our range: only those are ever changed or removed (a controller's meters stay). */
export function isOurMeter(id: number): boolean {
  return id >= METER_BASE && id <= METER_LAST;
}

/**
 * Least bucket of a meter for `rateBytes` byte/s: 250 ms at the rate, at least the Linux driver's shaper
 * burst. A policer with the shaper's 10 ms bucket lets one TCP stream reach about 5 % of the rate (measured on
 * the userspace datapath at 20 Mbit/s: 10 ms → 1 Mbit/s, 100 ms → 10, 250 ms → 18; at 10 Mbit/s Contiv's
 * 64 KB burst, 50 ms, gave 2.7), so a smaller burst asked for is raised to it.
 */
export function meterBurstBytes(rateBytes: number, mtu: number): number {
  return Math.max(defaultBurst(rateBytes, mtu), Math.ceil(rateBytes / 4));
}

/**
 * The meter of what the endpoint on a port numbered `ofport` sends: where its limit (qos.egressBps > 0) cannot be
 * a shaper in its namespace (a runtime owns that side: shapers.ts); else undefined.
 */
export function endpointMeter(e: DesiredEndpoint, ofport: number): Meter | undefined {
  const { egressBps, burstBytes } = e.qos;
  if (egressBps <= 0 || shapesContainerSide(e)) return undefined;
  const rateBytes = Math.max(1, Math.floor(egressBps / 8));
  const burst = Math.max(burstBytes, meterBurstBytes(rateBytes, e.mtu));
  return { id: meterId(ofport), kbps: Math.max(1, Math.round(egressBps / 1000)), burstKb: Math.max(1, Math.ceil((burst * 8) / 1000)) };
}

/** What add-meter and mod-meter take. */
export function meterSpec(m: Meter): string {
  return `meter=${m.id},kbps,burst,stats,band=type=drop,rate=${m.kbps},burst_size=${m.burstKb}`;
}

/**
 * Meters of `dump-meters` output. A meter that is not of our one shape (kbps, burst, one drop band) is read with
 * rate and burst -1, so it differs from any wanted meter and is modified back.
 */
export function parseMeters(dump: string): Meter[] {
  const out: Meter[] = [];
  for (const block of dump.split(/^(?=meter=)/m).filter((b) => b.startsWith("meter="))) {
    const head = /^meter=(\d+)\s+(.*?)\s*bands=/.exec(block);
    if (head === null) continue;
    const id = Number(head[1]);
    const flags = head[2]!.split(/\s+/).sort().join(",");
    const bands = [...block.matchAll(/type=(\S+) rate=(\d+)(?: burst_size=(\d+))?/g)];
    const band = bands[0];
    if (flags === "burst,kbps,stats" && bands.length === 1 && band![1] === "drop" && band![3] !== undefined) {
      out.push({ id, kbps: Number(band![2]), burstKb: Number(band![3]) });
    } else {
      out.push({ id, kbps: -1, burstKb: -1 });
    }
  }
  return out;
}

export interface MeterPlan {
  add: Meter[];
  modify: Meter[];
  /** Ids of our meters nobody wants: removed once no flow uses them. */
  remove: number[];
}

/** What turns the bridge's meters (`observed`, any owner's) into `wanted`; meters outside our range are left alone. */
export function diffMeters(wanted: readonly Meter[], observed: readonly Meter[]): MeterPlan {
  const have = new Map(observed.filter((m) => isOurMeter(m.id)).map((m) => [m.id, m]));
  const wantedIds = new Set(wanted.map((m) => m.id));
  const byId = (a: Meter, b: Meter) => a.id - b.id;
  return {
    add: wanted.filter((m) => !have.has(m.id)).sort(byId),
    modify: wanted.filter((m) => have.has(m.id) && (have.get(m.id)!.kbps !== m.kbps || have.get(m.id)!.burstKb !== m.burstKb)).sort(byId),
    remove: [...have.keys()].filter((id) => !wantedIds.has(id)).sort((a, b) => a - b),
  };
}
