// Shared by the unit tests: a sample DesiredHost and a "kernel that is exactly right"
// built from rendered state, so diff tests can start from an in-sync observation.

import type { DesiredEndpoint, DesiredHost, DesiredNetwork } from "../types.js";
import type { HostState, ObservedHost, ObservedTenant, TenantState } from "./state.js";

export const PREFIX = "npu0";
export const NS_A = `${PREFIX}-t-a`;
export const SCRIPT = "table inet netplugin\ndelete table inet netplugin\ntable inet netplugin {\n}\n";

export function network(overrides: Partial<DesiredNetwork> = {}): DesiredNetwork {
  return {
    name: "blue",
    bridge: "nb00000001",
    subnet: "198.18.1.0/24",
    gateway: "198.18.1.254",
    ipv6Subnet: "fd00:1::/64",
    ipv6Gateway: "FD00:1:0::FE",
    mtu: 1450,
    ...overrides,
  };
}

export function endpoint(n: number, overrides: Partial<DesiredEndpoint> = {}): DesiredEndpoint {
  return {
    id: `ep${n}`,
    network: "blue",
    hostLink: `ne000000000${n}`,
    netns: `/var/run/netns/c${n}`,
    ifname: "eth0",
    mac: `02:00:00:00:00:0${n}`,
    ipv4: `198.18.1.${n}/24`,
    ipv6: `fd00:1::${n}/64`,
    gateway: "198.18.1.254",
    ipv6Gateway: "fd00:1::fe",
    mtu: 1450,
    qos: { egressBps: 0, ingressBps: 0, burstBytes: 0 },
    ...overrides,
  };
}

export function desiredHost(): DesiredHost {
  return {
    prefix: PREFIX,
    tenants: [
      {
        name: "a",
        namespace: NS_A,
        fwdMode: "routing",
        networks: [network()],
        endpoints: [endpoint(1), endpoint(2)],
        nftScript: SCRIPT,
      },
    ],
  };
}

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
  }));
  return {
    namespace: tenant.namespace,
    exists: true,
    sysctls: Object.fromEntries(tenant.sysctls.map((s) => [s.key, s.value])),
    loopbackUp: true,
    bridges: tenant.bridges.map((b) => ({ ...b, up: true, addresses: [...b.addresses] })),
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
    containers: tenant.endpoints.map((e, i) => ({
      hostLink: e.hostLink,
      netns: e.container.netns,
      netnsMissing: false,
      link: {
        ifname: e.container.ifname,
        ifindex: 2,
        peerIfindex: veths[i]!.ifindex,
        kind: "veth",
        mac: e.container.mac,
        mtu: e.container.mtu,
        up: true,
        addresses: [...e.container.addresses],
      },
      routes: e.container.routes.map((r) => ({ ...r })),
    })),
    nftTable: tenant.nftScript !== "",
  };
}

export function observedHost(state: HostState): ObservedHost {
  return { namespaces: state.tenants.map((t) => t.namespace), tenants: state.tenants.map(observedTenant), unwanted: [], failures: [] };
}

export function appliedScripts(state: HostState): Map<string, string> {
  return new Map(state.tenants.map((t) => [t.namespace, t.nftScript]));
}
