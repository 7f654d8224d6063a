// Pure: the parts of a tenant namespace a run may take as applied instead of reading them, and what observe
// then reports for them. Each part is one process to read (sysctl; nft list tables and the tags of the tables
// we render whole; bridge fdb; tc qdisc and filter), 5–15 ms each, and a CNI ADD or DEL changes none of
// them, only links, addresses and routes (one `ip -batch` read). A part is settled when what is wanted of it
// equals what was applied without failure (incremental.ts): nothing but this process changes our objects, so
// the kernel still holds it, exactly as a container side is taken as applied. A full run settles nothing.

import { isDeepStrictEqual } from "node:util";

import type { ObservedTenant, TenantState } from "./state.js";

export type SettledPart = "sysctls" | "nftTables" | "fdb" | "qdiscs";

/** Every sysctl the tenant wants, its bridges' included. */
function sysctlsOf(tenant: TenantState): unknown {
  return [tenant.sysctls, tenant.bridges.map((b) => [b.name, b.sysctls])];
}

function tablesOf(tenant: TenantState): unknown {
  return [tenant.natTable, tenant.route6Table, tenant.lbTable, tenant.lbBackends];
}

/**
 * Shapers are settled when no endpoint that stays changed its limits: an endpoint that is new has no veth yet
 * (in a tenant applied without failure, nothing but what was applied is there), so its shapers are planned
 * from nothing, and one that goes takes its qdiscs along with its veth.
 */
function shapersSettled(last: TenantState, tenant: TenantState): boolean {
  const before = new Map(last.endpoints.map((e) => [e.hostLink, e]));
  return tenant.endpoints.every((e) => {
    const was = before.get(e.hostLink);
    return was === undefined || (isDeepStrictEqual(was.ingressLimit, e.ingressLimit) && isDeepStrictEqual(was.egressLimit, e.egressLimit));
  });
}

/** The parts of `tenant` that equal those of `last`, the state applied there without failure. */
export function settledParts(last: TenantState, tenant: TenantState): Set<SettledPart> {
  const parts = new Set<SettledPart>();
  if (isDeepStrictEqual(sysctlsOf(last), sysctlsOf(tenant))) parts.add("sysctls");
  if (isDeepStrictEqual(tablesOf(last), tablesOf(tenant))) parts.add("nftTables");
  if (isDeepStrictEqual(last.vxlans, tenant.vxlans)) parts.add("fdb");
  if (shapersSettled(last, tenant)) parts.add("qdiscs");
  return parts;
}

export type SettledObservation = Pick<ObservedTenant, "sysctls" | "fdb" | "qdiscs" | "redirects">;

/**
 * What observe would read of each part of `tenant` while the kernel holds it as applied. Settled nft tables need
 * nothing here: their tags are the wanted ones (observe.ts).
 */
export const settledObservation = {
  sysctls(tenant: TenantState): SettledObservation["sysctls"] {
    return Object.fromEntries([...tenant.sysctls, ...tenant.bridges.flatMap((b) => b.sysctls)].map((s) => [s.key, s.value]));
  },

  /** The entries diff compares (diffOverlay.ts diffVxlanEntries); the bridge's own permanent entries are never ours. */
  fdb(tenant: TenantState): SettledObservation["fdb"] {
    return tenant.vxlans.flatMap((v) => [
      ...v.peers.map((dst) => ({ dev: v.device, mac: "00:00:00:00:00:00", dst, self: true, master: null, state: "permanent" })),
      ...v.remotes.flatMap((r) => [
        { dev: v.device, mac: r.mac, dst: r.vtep, self: true, master: null, state: "permanent" },
        { dev: v.device, mac: r.mac, dst: null, self: false, master: v.bridge, state: "static" },
      ]),
    ]);
  },

  /** Qdiscs and redirects of the endpoints whose host-side veth is there (`links`: names read); one not made yet has none. */
  qdiscs(tenant: TenantState, links: ReadonlySet<string>): Pick<SettledObservation, "qdiscs" | "redirects"> {
    const endpoints = tenant.endpoints.filter((e) => links.has(e.hostLink));
    return {
      qdiscs: endpoints.flatMap((e) => [
        e.ingressLimit === null
          ? { dev: e.hostLink, kind: "noqueue", handle: "0:", root: true, shaper: null }
          : { dev: e.hostLink, kind: "tbf", handle: "1:", root: true, shaper: { ...e.ingressLimit } },
        ...(e.egressLimit === null
          ? []
          : [
              { dev: e.hostLink, kind: "ingress", handle: "ffff:", root: false, shaper: null },
              { dev: e.egressLimit.ifb, kind: "tbf", handle: "1:", root: true, shaper: { ...e.egressLimit.shaper } },
            ]),
      ]),
      redirects: endpoints.flatMap((e) => (e.egressLimit === null ? [] : [{ dev: e.hostLink, toDev: e.egressLimit.ifb }])),
    };
  },
};
