// Shared by the unit tests of services: a sample tenant with two service load balancers and DNS interception,
// on the sample DesiredHost of ../../testing/desired.ts; objects of the services table as `nft -j` prints them.

import type { DesiredHost, DesiredService } from "../../types.js";
import { clusterHost, network } from "../../testing/desired.js";

/** web: blue, two providers (ep1 here, a remote one without IPv6), two ports; db: red, no provider. */
export function services(): DesiredService[] {
  return [
    {
      name: "web",
      network: "blue",
      vip: "198.18.1.100",
      vip6: "fd00:1::100",
      ports: [
        { protocol: "tcp", port: 80, targetPort: 8080 },
        { protocol: "udp", port: 53, targetPort: 5353 },
      ],
      providers: [
        { endpoint: "ep1", ipv4: "198.18.1.1", ipv6: "fd00:1::1" },
        { endpoint: "net1.blue-21", ipv4: "198.18.1.21", ipv6: "" },
      ],
    },
    { name: "db", network: "red", vip: "198.18.2.100", vip6: "", ports: [{ protocol: "tcp", port: 5432, targetPort: 5432 }], providers: [] },
  ];
}

/** clusterHost() in bridge mode with a second network and both services; DNS intercepted on blue. */
export function servicesHost(): DesiredHost {
  const host = clusterHost();
  const tenant = host.tenants[0]!;
  tenant.fwdMode = "bridge";
  tenant.networks[0]!.interceptDns = true;
  tenant.networks.push(network({ name: "red", bridge: "nb00000002", subnet: "198.18.2.0/24", gateway: "198.18.2.254", ipv6Subnet: "", ipv6Gateway: "" }));
  tenant.services = services();
  return host;
}

/** servicesHost() without web's remote provider (198.18.1.21, IPv4 only). */
export function withoutRemote(): DesiredHost {
  const host = servicesHost();
  host.tenants[0]!.services![0]!.providers.pop();
  return host;
}

/** What every object of `nft -j list table inet netplugin_lb` names. */
export const LB_OBJECT = { family: "inet", table: "netplugin_lb" };

/** A verdict map of the services table, as nft 1.0.6 prints it: `VIP . PROTO . PORT : goto CHAIN`. */
export function servicesMap(family: 4 | 6, elements: Array<[string, string, number, string]>): object {
  const map = { ...LB_OBJECT, name: `services${family}`, type: [family === 4 ? "ipv4_addr" : "ipv6_addr", "inet_proto", "inet_service"], handle: 9, map: "verdict" };
  // An empty map has no "elem" at all.
  if (elements.length === 0) return { map };
  return { map: { ...map, elem: elements.map(([vip, proto, port, chain]) => [{ concat: [vip, proto, port] }, { goto: { target: chain } }]) } };
}

/** A service port's rule for one family: `dnat ip to numgen random mod N map { i : ADDR . PORT }`. */
export function dnatRule(chain: string, family: 4 | 6, protocol: string, providers: Array<[string, number]>): object {
  return {
    rule: {
      ...LB_OBJECT,
      chain,
      handle: 30,
      expr: [
        { match: { op: "==", left: { meta: { key: "nfproto" } }, right: `ipv${family}` } },
        { match: { op: "==", left: { meta: { key: "l4proto" } }, right: protocol } },
        {
          dnat: {
            family: family === 4 ? "ip" : "ip6",
            addr: { map: { key: { numgen: { mode: "random", mod: providers.length, offset: 0 } }, data: { set: providers.map(([a, p], i) => [i, { concat: [a, p] }]) } } },
          },
        },
      ],
    },
  };
}
