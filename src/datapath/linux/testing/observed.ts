// Shared by the Linux driver's unit tests: a "kernel that is exactly right" built from rendered state, so
// diff tests can start from an in-sync observation (the sample DesiredHost is ../../testing/desired.ts).

import { compilePolicy } from "../../../policy/index.js";
import { emptyPolicy } from "../../testing/desired.js";
import type { HostState, ObservedHost, ObservedHostNamespace, ObservedTenant, TenantState } from "../state.js";
import { coversLoopback } from "../renderPorts.js";
import { UPLINK_HOST_LL, UPLINK_TENANT_LL } from "../renderOverlay.js";

/** The nft script of emptyPolicy(). */
export const SCRIPT = compilePolicy(emptyPolicy()).script;

/** The observation of a kernel that already holds exactly `tenant` (ifindexes invented, pairs consistent). */
export function observedTenant(tenant: TenantState): ObservedTenant {
  let ifindex = 10;
  const veths = tenant.endpoints.map((e) => ({
    name: e.hostLink,
    ifindex: ifindex++,
    peerIfindex: 2,
    master: e.bridge,
    mtu: e.mtu,
    up: true,
    addresses: [] as string[],
    linkLocal: [] as string[],
    hairpin: e.hairpin,
  }));
  return {
    namespace: tenant.namespace,
    exists: true,
    sysctls: Object.fromEntries([...tenant.sysctls, ...tenant.bridges.flatMap((b) => b.sysctls)].map((s) => [s.key, s.value])),
    loopbackUp: true,
    bridges: tenant.bridges.map((b) => ({
      name: b.name,
      mac: b.mac,
      mtu: b.mtu,
      up: true,
      mcastSnooping: b.mcastSnooping,
      mcastQuerier: b.mcastQuerier,
      netfilter: b.netfilter,
      addresses: [...b.addresses],
      noPrefixRoute: [...b.noPrefixRoute],
    })),
    veths,
    ifbs: tenant.endpoints.flatMap((e) => (e.egressLimit === null ? [] : [{ name: e.egressLimit.ifb, mtu: e.mtu, up: true }])),
    qdiscs: tenant.endpoints.flatMap((e) => [
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
    redirects: tenant.endpoints.flatMap((e) => (e.egressLimit === null ? [] : [{ dev: e.hostLink, toDev: e.egressLimit.ifb }])),
    // A runtime's container side is never read.
    containers: tenant.endpoints.filter((e) => e.containerSide === "ours").map((e) => ({
      hostLink: e.hostLink,
      netns: e.container.netns,
      netnsMissing: false,
      link: {
        ifname: e.container.ifname,
        ifindex: 2,
        peerIfindex: veths.find((v) => v.name === e.hostLink)!.ifindex,
        kind: "veth",
        mac: e.container.mac,
        mtu: e.container.mtu,
        up: true,
        addresses: [...e.container.addresses],
      },
      routes: e.container.routes.map((r) => ({ ...r })),
    })),
    nftTable: true,
    vxlans: tenant.vxlans.map((v) => ({
      name: v.device,
      vni: v.vni,
      local: v.local,
      port: v.port,
      proxy: v.proxy,
      learning: false,
      ttl: 64,
      mtu: v.mtu,
      up: true,
      master: v.bridge,
      portLearning: false,
      mcastRouter: 2,
    })),
    fdb: tenant.vxlans.flatMap((v) => [
      { dev: v.device, mac: "9a:00:00:00:00:99", dst: null, self: false, master: v.bridge, state: "permanent" },
      ...v.peers.map((dst) => ({ dev: v.device, mac: "00:00:00:00:00:00", dst, self: true, master: null, state: "permanent" })),
      ...v.remotes.flatMap((r) => [
        { dev: v.device, mac: r.mac, dst: r.vtep, self: true, master: null, state: "permanent" },
        { dev: v.device, mac: r.mac, dst: null, self: false, master: v.bridge, state: "static" },
      ]),
    ]),
    neighbours: tenant.vxlans.flatMap((v) => v.neighbours.map((n) => ({ dev: v.device, ip: n.ip, mac: n.mac, permanent: true }))),
    routes:
      tenant.uplink === null
        ? []
        : [
            { family: 4 as const, via: tenant.uplink.gateway, dev: tenant.uplink.tenantLink },
            ...(tenant.uplink.ipv6 ? [{ family: 6 as const, via: UPLINK_HOST_LL, dev: tenant.uplink.tenantLink }] : []),
          ],
    hostRoutes: tenant.bridges.flatMap((b) => b.hostRoutes.map((dst) => ({ dst, dev: b.name }))),
    proxyNeighbours: tenant.bridges.flatMap((b) => b.proxyNeighbours.map((ip) => ({ ip, dev: b.name }))),
    natTag: tenant.natTable?.tag ?? null,
    route6Tag: tenant.route6Table?.tag ?? null,
    lbTag: tenant.lbTable?.tag ?? null,
    // What the table holds, as observe reads it when it is about to change.
    lbBackends: tenant.lbTable === null ? null : tenant.lbBackends,
  };
}

/**
 * Uplink and host-endpoint veths: the tenant ends are appended to `tenant.veths`, the agent-side ends
 * returned, each pair pointing at the other.
 */
function pairs(state: TenantState, tenant: ObservedTenant, start: number): ObservedHostNamespace["links"] {
  let ifindex = start;
  const links: ObservedHostNamespace["links"] = [];
  // Every veth has the kernel's own link-local address; an IPv6 uplink also has its fixed one.
  const kernelLl = "fe80::9800:ff:fe00:1/64";
  const pair = (
    hostLink: string,
    tenantLink: string,
    hostAddress: string[],
    tenantAddress: string[],
    mac: string,
    mtu: number,
    master: string | null,
    ipv6 = false,
  ): void => {
    const h = ifindex++;
    const t = ifindex++;
    const ll = (fixed: string): string[] => [kernelLl, ...(ipv6 ? [`${fixed}/64`] : [])];
    links.push({ name: hostLink, kind: "veth", ifindex: h, peerIfindex: t, mac, mtu, up: true, addresses: hostAddress, linkLocal: ll(UPLINK_HOST_LL) });
    tenant.veths.push({ name: tenantLink, ifindex: t, peerIfindex: h, master, mtu, up: true, addresses: tenantAddress, linkLocal: ll(UPLINK_TENANT_LL), hairpin: false });
  };
  if (state.uplink !== null) {
    pair(state.uplink.hostLink, state.uplink.tenantLink, [state.uplink.hostAddr], [state.uplink.tenantAddr], "9a:00:00:00:00:01", 1500, null, state.uplink.ipv6);
  }
  for (const ep of state.hostEndpoints) pair(ep.hostLink, ep.tenantLink, [ep.address], [], ep.mac, ep.mtu, ep.bridge);
  return links;
}

export function observedHost(state: HostState): ObservedHost {
  const tenants = state.tenants.map(observedTenant);
  const links = state.tenants.flatMap((t, i) => pairs(t, tenants[i]!, 100 + 100 * i));
  return {
    namespaces: state.tenants.map((t) => t.namespace),
    tenants,
    unwanted: [],
    failures: [],
    host: {
      links,
      routes: state.tenants.flatMap((t) =>
        t.uplink === null
          ? []
          : t.uplink.routes.map((dst) => ({ dst, via: dst.includes(":") ? UPLINK_TENANT_LL : t.uplink!.tenantGateway, dev: t.uplink!.hostLink })),
      ),
      sysctls: Object.fromEntries([
        ...state.host.sysctls.map((s) => [s.key, s.value]),
        ...state.tenants.flatMap((t) =>
          t.uplink === null ? [] : [[`net.ipv4.conf.${t.uplink.hostLink}.route_localnet`, t.portForwards.some(coversLoopback) ? "1" : "0"]],
        ),
      ]),
      nftTag: state.host.nftTable?.tag ?? null,
    },
  };
}

export function appliedScripts(state: HostState): Map<string, string> {
  return new Map(state.tenants.map((t) => [t.namespace, t.nftScript]));
}

