// Pure: published host ports (DesiredEndpoint.portMappings: `-p`, CNI portMappings). Tenants may share
// subnets, so the agent's namespace cannot route to a container: it DNATs the host port to the tenant's
// uplink address at the same port, and the tenant namespace DNATs what arrives through its uplink at that
// port to the container. A (protocol, host port) therefore has one target per tenant, whatever host
// address it is published on. Replies need no rule: the client is outside every subnet of the tenant, so
// they take the tenant's default route back through the uplink, where conntrack undoes both DNATs.
//
// The host's own connections pass the output hook instead of prerouting. One to 127.0.0.1 has a loopback
// source, which the kernel refuses to route out of a real interface unless route_localnet is set on it:
// the uplink's agent-side end gets route_localnet=1 while a mapping covers loopback, and such connections
// are masqueraded to the uplink's host address as they leave, so the container sees an address it can
// answer (and the answer may come back in through that link).

import { hostIPsOverlap } from "../ports.js";
import type { DesiredEndpoint, DesiredTenant } from "../types.js";
import { canonicalIp, familyOf } from "./addr.js";
import type { PortForward, TenantState, UplinkState } from "./state.js";
import { compareText, type IssueList } from "./validate.js";

const PROTOCOLS = new Set(["tcp", "udp", "sctp"]);

/** A published port in the agent's namespace: DNATed to `tenantAddr` (the tenant's uplink end), same port. */
export interface HostPortForward {
  protocol: PortForward["protocol"];
  hostIP: string;
  hostPort: number;
  tenantAddr: string;
}

/** The mapping is reachable at a loopback address of the host (so the uplink needs route_localnet). */
export function coversLoopback(forward: { hostIP: string }): boolean {
  return forward.hostIP === "" || forward.hostIP.startsWith("127.");
}

function compareForwards(a: PortForward, b: PortForward): number {
  return compareText(a.protocol, b.protocol) || a.hostPort - b.hostPort || compareText(a.hostIP, b.hostIP) || compareText(a.containerIp, b.containerIp);
}

function isPort(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= 65_535;
}

/** The tenant's published ports, validated, duplicates dropped, sorted. `path` names the endpoint list. */
export function renderPortForwards(endpoints: DesiredEndpoint[], path: string, issues: IssueList): PortForward[] {
  const forwards: PortForward[] = [];
  endpoints.forEach((endpoint, i) => {
    const containerIp = canonicalIp(endpoint.ipv4.split("/")[0] ?? "");
    (endpoint.portMappings ?? []).forEach((m, j) => {
      const at = `${path}[${i}].portMappings[${j}]`;
      let ok = containerIp !== null;
      if (!PROTOCOLS.has(m.protocol)) (issues.add(`${at}.protocol`, `invalid protocol "${String(m.protocol)}"`), (ok = false));
      if (!isPort(m.hostPort)) (issues.add(`${at}.hostPort`, `invalid port ${m.hostPort}`), (ok = false));
      if (!isPort(m.containerPort)) (issues.add(`${at}.containerPort`, `invalid port ${m.containerPort}`), (ok = false));
      const hostIP = m.hostIP === "" ? "" : canonicalIp(m.hostIP);
      if (hostIP === null || (hostIP !== "" && (familyOf(hostIP) !== 4 || hostIP === "0.0.0.0"))) {
        issues.add(`${at}.hostIP`, `invalid host address "${m.hostIP}": want an IPv4 address of the host, or "" for all`);
        ok = false;
      }
      if (!ok) return;
      const forward: PortForward = { protocol: m.protocol, hostIP: hostIP!, hostPort: m.hostPort, containerIp: containerIp!, containerPort: m.containerPort };
      const leg = forwards.find((f) => f.protocol === forward.protocol && f.hostPort === forward.hostPort);
      if (leg !== undefined && (leg.containerIp !== forward.containerIp || leg.containerPort !== forward.containerPort)) {
        issues.add(`${at}.hostPort`, `host port ${m.hostPort}/${m.protocol} already goes to ${leg.containerIp}:${leg.containerPort} in this tenant`);
        return;
      }
      if (!forwards.some((f) => compareForwards(f, forward) === 0)) forwards.push(forward);
    });
  });
  return forwards.sort(compareForwards);
}

/** What checkHostPorts needs of a tenant's state (the OVS driver makes these without the rest of TenantState). */
export type TenantPorts = Pick<TenantState, "tenant" | "uplink" | "portForwards"> & { vxlans: readonly { port: number }[] };

/**
 * Host-wide checks: a host port and protocol is published once per host address (tenants apart), never on
 * the overlay's own UDP port, and only to tenants with an uplink. `tenants` in the order of DesiredHost.tenants.
 */
export function checkHostPorts(desired: DesiredTenant[], tenants: readonly TenantPorts[], issues: IssueList): void {
  const vxlanPorts = new Set(tenants.flatMap((t) => t.vxlans.map((v) => v.port)));
  const seen: { forward: PortForward; tenant: string }[] = [];
  tenants.forEach((tenant, i) => {
    for (const f of tenant.portForwards) {
      // The endpoint that publishes it, so a clash is that endpoint's problem and no one else's.
      const k = (desired[i]?.endpoints ?? []).findIndex(
        (e) => e.ipv4.split("/")[0] === f.containerIp && (e.portMappings ?? []).some((m) => m.hostPort === f.hostPort && m.protocol === f.protocol),
      );
      const at = k < 0 ? `tenants[${i}].endpoints` : `tenants[${i}].endpoints[${k}].portMappings`;
      const what = `host port ${f.hostIP === "" ? "" : `${f.hostIP}:`}${f.hostPort}/${f.protocol}`;
      if (tenant.uplink === null) issues.add(at, `${what} needs the tenant's uplink`);
      if (f.protocol === "udp" && vxlanPorts.has(f.hostPort)) issues.add(at, `${what} is the VXLAN port`);
      const clash = seen.find(
        (s) => s.tenant !== tenant.tenant && s.forward.protocol === f.protocol && s.forward.hostPort === f.hostPort && hostIPsOverlap(s.forward.hostIP, f.hostIP),
      );
      if (clash !== undefined) issues.add(at, `${what} is published by tenant "${clash.tenant}" too`);
      seen.push({ forward: f, tenant: tenant.tenant });
    }
  });
}

/**
 * Chains of the tenant's uplink table: DNAT of what arrives through the uplink at a published port. Only
 * what is addressed to the uplink's tenant end, where the agent's namespace sends published ports: other
 * connections through the uplink on the same port (to a routed container) keep their destination.
 */
export function tenantPortChains(uplink: UplinkState, forwards: PortForward[]): string[] {
  if (forwards.length === 0) return [];
  const to = `iifname "${uplink.tenantLink}" ip daddr ${uplink.tenantGateway}`;
  const rules = new Set(forwards.map((f) => `    ${to} ${f.protocol} dport ${f.hostPort} dnat to ${f.containerIp}:${f.containerPort}`));
  return ["  chain ports {", "    type nat hook prerouting priority dstnat; policy accept;", ...rules, "  }"];
}

/**
 * Chains of the agent namespace's table: DNAT of the host's published ports to the tenants' uplinks, for
 * connections arriving from elsewhere (prerouting) and the host's own (output). Only traffic addressed to
 * the host itself: containers' connections to other machines on the same port pass untouched. `uplinks`:
 * the wildcard of the agent-side uplink ends.
 *
 * A container that connects to a published port through its host's address (hairpin) arrives from one
 * uplink and leaves through another, or the same one: otherwise dropped (tenants never meet through the
 * host), let through when it is one of our published ports after the DNAT (`forward`, the set
 * `published`: tenant end . protocol . port), because a published port is open to anyone who can reach
 * the host; any other DNAT made on the host (by other software) does not open the way (its first packet is
 * dropped, so it never becomes an established connection whose packets the next rule lets by). Such a connection
 * is masqueraded to the host's end of the uplink it leaves by (`postrouting`): its source is a tenant's
 * uplink address, which the target tenant may hold itself (same tenant) or which its replies would not
 * route back to otherwise.
 */
export function hostPortChains(uplinks: string, forwards: HostPortForward[]): { chains: string[]; postrouting: string[]; forward: string[] } {
  if (forwards.length === 0) return { chains: [], postrouting: [], forward: [] };
  const rules = forwards.map((f) => `    ${f.hostIP === "" ? "" : `ip daddr ${f.hostIP} `}${f.protocol} dport ${f.hostPort} dnat ip to ${f.tenantAddr}`);
  const published = [...new Set(forwards.map((f) => `${f.tenantAddr} . ${f.protocol} . ${f.hostPort}`))];
  const ours = `iifname "${uplinks}" oifname "${uplinks}" ct status dnat ip daddr . meta l4proto . th dport @published`;
  return {
    chains: [
      "  set published {",
      "    type ipv4_addr . inet_proto . inet_service",
      `    elements = { ${published.join(", ")} }`,
      "  }",
      "  chain ports {",
      ...rules,
      "  }",
      "  chain ports_in {",
      "    type nat hook prerouting priority dstnat; policy accept;",
      "    fib daddr type local jump ports",
      "  }",
      "  chain ports_out {",
      // nft 1.0.6 knows the name "dstnat" (-100) in prerouting only.
      "    type nat hook output priority -100; policy accept;",
      "    fib daddr type local jump ports",
      "  }",
    ],
    postrouting: [
      `    ${ours} masquerade`,
      ...(forwards.some(coversLoopback) ? [`    oifname "${uplinks}" ip saddr 127.0.0.0/8 masquerade`] : []),
    ],
    // Only a connection whose first packet passed here is established across the uplinks: its replies follow.
    forward: [`    ${ours} accept`, `    iifname "${uplinks}" oifname "${uplinks}" ct state established,related accept`],
  };
}

/** Every tenant's published ports as the agent's namespace DNATs them, sorted. */
export function hostPortForwards(tenants: readonly Pick<TenantState, "uplink" | "portForwards">[]): HostPortForward[] {
  return tenants
    .flatMap((t) =>
      t.uplink === null ? [] : t.portForwards.map((f) => ({ protocol: f.protocol, hostIP: f.hostIP, hostPort: f.hostPort, tenantAddr: t.uplink!.tenantGateway })),
    )
    .filter((f, i, all) => all.findIndex((g) => g.protocol === f.protocol && g.hostPort === f.hostPort && g.hostIP === f.hostIP) === i)
    .sort((a, b) => compareText(a.protocol, b.protocol) || a.hostPort - b.hostPort || compareText(a.hostIP, b.hostIP));
}
