// A sample DesiredHost for tests of anything that builds or reads desired state (any driver, the agent).

import type { PolicyInput } from "../../policy/index.js";
import type { DesiredEndpoint, DesiredHost, DesiredNetwork } from "../types.js";

export const PREFIX = "npu0";
export const NS_A = `${PREFIX}-t-a`;

/** A tenant's policy without groups or rules (each call a fresh object, for tests to change). */
export function emptyPolicy(): PolicyInput {
  return { fwdMode: "routing", networks: [], groups: [], rules: [] };
}

export function network(overrides: Partial<DesiredNetwork> = {}): DesiredNetwork {
  return {
    name: "blue",
    bridge: "nb00000001",
    subnet: "198.18.1.0/24",
    gateway: "198.18.1.254",
    ipv6Subnet: "fd00:1::/64",
    ipv6Gateway: "FD00:1:0::FE",
    mtu: 1450,
    routed: false,
    netfilter: true,
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
        policy: emptyPolicy(),
        hostEndpoints: [],
      },
    ],
    host: { natOutbound: false },
  };
}

/** desiredHost() on a cluster: the network is a VXLAN (proxy) with two peers, plus uplink, host endpoint, NAT. */
export function clusterHost(): DesiredHost {
  const host = desiredHost();
  const tenant = host.tenants[0]!;
  tenant.networks[0]!.vxlan = {
    vni: 100,
    device: "nv100",
    localVtep: "198.18.0.11",
    port: 4789,
    peers: ["198.18.0.13", "198.18.0.12"],
    arpMode: "proxy",
    remotes: [
      { id: "net1.blue-21", mac: "02:00:00:00:02:01", ipv4: "198.18.1.21", ipv6: "fd00:1::21", vtep: "198.18.0.12" },
      { id: "net1.blue-31", mac: "02:00:00:00:03:01", ipv4: "198.18.1.31", ipv6: "", vtep: "198.18.0.13" },
    ],
  };
  tenant.uplink = { hostLink: `${PREFIX}u00001`, tenantLink: "nuplink", hostAddr: "169.254.0.1/30", tenantAddr: "169.254.0.2/30", routes: [] };
  tenant.hostEndpoints = [
    { network: "blue", hostLink: `${PREFIX}h00001`, tenantLink: "nh00000001", address: "198.18.1.200/24", mac: "02:00:00:00:00:c8", mtu: 1450 },
  ];
  host.host = { natOutbound: true };
  return host;
}
