// Which hosts receive which record on the state stream: each host gets its own slice, not the cluster's
// whole state. A tenant's records go to the hosts where the tenant is present (an endpoint of it, a
// container's or the host's own, is homed there); what every host needs (the global object, the hosts and
// their VTEPs, infra networks, on which every host makes its own endpoint) goes everywhere; a host's own
// records (its Bgp object, the addresses its dockerd holds) go to it alone. A host whose agent makes
// Docker networks for netmaster's networks and groups (the catalog) also gets every tenant, network and
// group object. Netmaster's own bookkeeping (allocator bitmaps, counters, MAC holders, Docker pools) goes
// nowhere; records that carry allocators reach agents without them.

import { ROOT } from "./keys.js";

export type Audience =
  /** Every host. */
  | { kind: "all" }
  /** One host. */
  | { kind: "host"; host: string }
  /** The hosts where the tenant is present; with `catalog`, also those that asked for the catalog. */
  | { kind: "tenant"; tenant: string; catalog: boolean }
  /** No agent. */
  | { kind: "none" };

const NONE: Audience = { kind: "none" };
const ALL: Audience = { kind: "all" };

function tenantOf(rest: string): string {
  const colon = rest.indexOf(":");
  return colon < 0 ? rest : rest.slice(0, colon);
}

function field(value: unknown, name: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

/** Config objects by modeldb type: who needs them. */
function objectAudience(type: string, rest: string, value: unknown): Audience {
  switch (type) {
    case "global":
      return ALL;
    case "Bgp":
      return { kind: "host", host: rest };
    case "network":
      // Every host makes its own endpoint on an infra network (agent/infra.ts), so every host needs those.
      return field(value, "nwType") === "infra" ? ALL : { kind: "tenant", tenant: tenantOf(rest), catalog: true };
    case "tenant":
    case "endpointGroup":
      return { kind: "tenant", tenant: tenantOf(rest), catalog: true };
    case "policy":
    case "rule":
    case "netprofile":
    case "serviceLB":
      return { kind: "tenant", tenant: tenantOf(rest), catalog: false };
    default:
      return NONE; // ACI objects: no agent uses them
  }
}

/** Runtime records under state/: who needs them. */
function stateAudience(kind: string, rest: string, value: unknown): Audience {
  switch (kind) {
    case "nets":
    case "epgs":
    case "services":
    case "tenants":
      return { kind: "tenant", tenant: tenantOf(rest), catalog: false };
    case "eps": {
      const tenant = field(value, "tenantName");
      return typeof tenant === "string" ? { kind: "tenant", tenant, catalog: false } : NONE;
    }
    case "hosts":
      return ALL;
    case "blocks": {
      const host = field(value, "host");
      return typeof host === "string" ? { kind: "host", host } : NONE;
    }
    case "docker": {
      const host = field(value, "host");
      return rest.startsWith("addresses/") && typeof host === "string" ? { kind: "host", host } : NONE;
    }
    default:
      return NONE;
  }
}

/** Pure: the hosts that need the record at `key` with `value` (a record's audience never depends on other records). */
export function audienceOf(key: string, value: unknown): Audience {
  if (!key.startsWith(ROOT)) return NONE;
  const [area, kind, ...restParts] = key.slice(ROOT.length).split("/");
  const rest = restParts.join("/");
  if (kind === undefined || rest === "") return NONE;
  if (area === "obj") return objectAudience(kind, rest, value);
  if (area === "state") return stateAudience(kind, rest, value);
  return NONE;
}

/**
 * An endpoint record makes its tenant present on the host it is homed on; so does an address block, so that a
 * host keeps its tenant's state while it may start containers without netmaster.
 */
export function presenceOf(key: string, value: unknown): { tenant: string; host: string } | undefined {
  const endpoint = key.startsWith(`${ROOT}state/eps/`);
  if (!endpoint && !key.startsWith(`${ROOT}state/blocks/`)) return undefined;
  const tenant = field(value, "tenantName");
  const host = field(value, endpoint ? "homingHost" : "host");
  return typeof tenant === "string" && typeof host === "string" ? { tenant, host } : undefined;
}

/** What an agent receives of a record: allocators and pools stay in netmaster. */
export function projectForAgent(key: string, value: unknown): unknown {
  if (key.startsWith(`${ROOT}state/nets/`)) return { pktTag: field(value, "pktTag"), extPktTag: field(value, "extPktTag") };
  if (key.startsWith(`${ROOT}state/epgs/`)) return { groupId: field(value, "groupId") };
  return value;
}
