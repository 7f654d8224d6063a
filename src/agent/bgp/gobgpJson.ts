// Reads what `gobgp … -j` prints (gobgp 3.x): the RIB of one address family and the neighbor list.
// Only the fields we use are checked; anything else gobgp adds is ignored.

import { z } from "zod";

import { UpstreamError } from "../../lib/errors.js";
import { canonicalIp, canonicalPrefix } from "./prefix.js";

/** One path in gobgp's global RIB. */
export interface RibPath {
  prefix: string;
  /** Canonical next hop; undefined when gobgp showed none. */
  nextHop: string | undefined;
  best: boolean;
  /** Learned from a neighbor (false: added locally over the API, i.e. announced by us). */
  learned: boolean;
  /** The neighbor it came from, when learned. */
  neighbor?: string;
}

const Attr = z.object({ type: z.number(), nexthop: z.string().optional() });
const Path = z.object({
  nlri: z.object({ prefix: z.string() }),
  best: z.boolean().optional(),
  attrs: z.array(Attr).optional(),
  "neighbor-ip": z.string().optional(),
});
const Rib = z.record(z.string(), z.array(Path)).nullable();

const ATTR_NEXT_HOP = 3;
const ATTR_MP_REACH_NLRI = 14;

/** Parses `gobgp global rib [-a ipv6] -j`; throws UpstreamError when the text is not that. */
export function parseRib(text: string): RibPath[] {
  const rib = parseJson(text, Rib, "gobgp global rib -j");
  const paths: RibPath[] = [];
  for (const [key, list] of Object.entries(rib ?? {})) {
    for (const p of list) {
      const prefix = canonicalPrefix(p.nlri.prefix) ?? canonicalPrefix(key);
      if (prefix === null) continue;
      const hop =
        p.attrs?.find((a) => a.type === ATTR_NEXT_HOP)?.nexthop ?? p.attrs?.find((a) => a.type === ATTR_MP_REACH_NLRI)?.nexthop;
      const neighbor = p["neighbor-ip"];
      // gobgp prints "<nil>" for a path without a source on some versions.
      const learned = neighbor !== undefined && canonicalIp(neighbor) !== null;
      paths.push({
        prefix,
        nextHop: hop === undefined ? undefined : (canonicalIp(hop) ?? undefined),
        best: p.best === true,
        learned,
        ...(learned && neighbor !== undefined ? { neighbor: canonicalIp(neighbor) ?? neighbor } : {}),
      });
    }
  }
  return paths.sort((a, b) => a.prefix.localeCompare(b.prefix));
}

/** gobgp's session states (api.PeerState_SessionState), in the lower case Contiv reported them. */
export const SESSION_STATES = ["unknown", "idle", "connect", "active", "opensent", "openconfirm", "established"] as const;
export type SessionState = (typeof SESSION_STATES)[number];
export const ADMIN_STATES = ["up", "down", "pfx_ct"] as const;
export type AdminState = (typeof ADMIN_STATES)[number];

export interface NeighborState {
  address: string;
  peerAs: number | undefined;
  sessionState: SessionState;
  adminState: AdminState;
  /** Prefixes received and accepted, summed over address families. */
  received: number;
  accepted: number;
}

// protojson leaves out fields at their zero value: no session_state means UNKNOWN, no admin_state UP.
const Enum = z.union([z.number(), z.string()]).optional();
const Neighbor = z.object({
  conf: z.object({ neighbor_address: z.string().optional(), peer_asn: z.number().optional() }).optional(),
  state: z
    .object({
      neighbor_address: z.string().optional(),
      session_state: Enum,
      admin_state: Enum,
    })
    .optional(),
  afi_safis: z
    .array(z.object({ state: z.object({ received: z.number().optional(), accepted: z.number().optional() }).optional() }))
    .optional(),
});
const Neighbors = z.array(Neighbor).nullable();

/** Parses `gobgp neighbor -j`; throws UpstreamError when the text is not that. */
export function parseNeighbors(text: string): NeighborState[] {
  const list = parseJson(text, Neighbors, "gobgp neighbor -j") ?? [];
  return list.map((n) => ({
    address: canonicalIp(n.state?.neighbor_address ?? n.conf?.neighbor_address ?? "") ?? "",
    peerAs: n.conf?.peer_asn,
    sessionState: enumName(n.state?.session_state, SESSION_STATES, "unknown"),
    adminState: enumName(n.state?.admin_state, ADMIN_STATES, "up"),
    received: (n.afi_safis ?? []).reduce((sum, a) => sum + (a.state?.received ?? 0), 0),
    accepted: (n.afi_safis ?? []).reduce((sum, a) => sum + (a.state?.accepted ?? 0), 0),
  }));
}

function enumName<T extends string>(value: number | string | undefined, names: readonly T[], zero: T): T {
  if (value === undefined) return zero;
  if (typeof value === "number") return names[value] ?? zero;
  const name = value.toLowerCase().replace(/^(session_state_|admin_state_)/, "") as T;
  return names.includes(name) ? name : zero;
}

function parseJson<T>(text: string, schema: z.ZodType<T>, what: string): T {
  let raw: unknown;
  try {
    raw = text.trim() === "" ? null : JSON.parse(text);
  } catch (err) {
    throw new UpstreamError(`Cannot read "${what}": not JSON: ${text.slice(0, 200)}`, { cause: err });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new UpstreamError(`Cannot read "${what}": unexpected shape: ${detail}`);
  }
  return parsed.data;
}
