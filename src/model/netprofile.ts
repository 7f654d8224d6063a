// netprofile: QoS settings (bandwidth, burst, DSCP) applied to endpoint groups.
// Key `tenantName:profileName` (reference §1.7).

import { z } from "zod";
import { BANDWIDTH, goInt, goString, objectKey } from "./common.js";

const S = "Netprofile";

export const MAX_DSCP = 63;
/** Largest burst in KB. */
export const MAX_BURST = 10486;

export const NetProfile = z.object({
  /** The JSON key is upper-case, as in Contiv. 0 = no marking. */
  DSCP: goInt(S, "DSCP", { max: MAX_DSCP }),
  /** e.g. "10Mbps", "10 Gbps", "5Gb", "4g", "20mb"; "" = unlimited. */
  bandwidth: goString(S, "bandwidth", { max: 64, pattern: BANDWIDTH }),
  /** KB. */
  burst: goInt(S, "burst", { max: MAX_BURST }),
  /** No format rule in the original (only a length). */
  profileName: goString(S, "profileName", { max: 64 }),
  /** No rule at all in the original; the master checks that the tenant exists. */
  tenantName: goString(S, "tenantName"),
  key: objectKey,
});
export type NetProfile = z.infer<typeof NetProfile>;

const UNIT_BITS = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as const;

/** The unit letter of a bandwidth string, found the way the original looks for it. */
function bandwidthUnit(s: string): "k" | "m" | "g" | undefined {
  // ConvertBandwidth and netctl test g/G first, then m/M, then k/K, anywhere in the string.
  if (/[gG]/.test(s)) return "g";
  if (/[mM]/.test(s)) return "m";
  if (/[kK]/.test(s)) return "k";
  return undefined;
}

/**
 * Bits per second for a netprofile bandwidth string, or undefined for "" (no limit).
 *
 * Units are powers of 1024 whatever their spelling ("kbps", "Kb", "k" all mean 1024 bit/s), as in
 * the original's `netutils.ConvertBandwidth`, which computes `N × 1024^unit / 1000` kbit/s for
 * OVS: "10Mbps" → 10485760 bit/s (10485 kbit/s there). A string with no k/m/g unit (reachable only
 * through the original regex's `{1}` quirk, e.g. "10 1bps") gave 0, i.e. unlimited; we return
 * undefined for it too.
 */
export function parseBandwidth(s: string): number | undefined {
  const digits = /[0-9]+/.exec(s);
  const unit = bandwidthUnit(s);
  if (!digits || !unit) return undefined;
  return Number(digits[0]) * UNIT_BITS[unit];
}

/**
 * A bandwidth string as `netctl netprofile ls` prints it: `<digits>Gbps|Mbps|Kbps`
 * ("10 gb" → "10Gbps"). "" stays "".
 */
export function normalizeBandwidth(s: string): string {
  const digits = /[0-9]+/.exec(s);
  if (!digits) return s;
  const unit = bandwidthUnit(s);
  return digits[0] + (unit ? `${unit.toUpperCase()}bps` : "");
}
