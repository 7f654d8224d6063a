// Pure: the cluster-facing part of a tenant's kernel state — VXLAN devices with their FDB and
// proxy-neighbour entries, the uplink to the agent's namespace with its NAT table, host endpoints —
// and the outbound NAT table of the agent's own namespace. Part of render.ts, split out by concern.

import { createHash } from "node:crypto";

import type { DesiredHostEndpoint, DesiredNetwork, DesiredUplink, FwdMode } from "../types.js";
import { canonicalCidr, canonicalIp, canonicalMac, familyOf, parseCidr } from "./addr.js";
import { hostPortChains, tenantPortChains, type HostPortForward } from "./renderPorts.js";
import type { BridgeState, HostEndpointState, OwnedNftTable, PortForward, ProxyNeighbour, RemoteMac, UplinkState, VxlanState } from "./state.js";
import { compareText, IFNAME, type IssueList } from "./validate.js";

/** The tenant's uplink NAT table (family ip), beside the policy table `inet netplugin` that we never touch here. */
export const NAT_TABLE = "netplugin_nat";
/** Addresses of tenant uplinks (DesiredUplink): what the agent's namespace masquerades. */
/** Where the tenants' uplinks take their addresses unless DesiredHostNamespace.uplinkRange says otherwise. */
export const UPLINK_RANGE = "169.254.0.0/16";
/** The tenant's IPv6 routing guard (routed networks with IPv6), beside the NAT table: nothing there is NATed. */
export const ROUTE6_TABLE = "netplugin_route6";
/**
 * Fixed link-local addresses of the uplink's two ends when the tenant routes IPv6. Link-local scope is per
 * link, so every uplink uses the same pair: nothing to allocate, nothing that can clash with a subnet, and
 * the next hops stay the same across restarts (the kernel's own link-local addresses follow random MACs).
 */
export const UPLINK_HOST_LL = "fe80::1";
export const UPLINK_TENANT_LL = "fe80::2";
export const VXLAN_TTL = 64;
const VNI_MAX = 16_777_215;

/**
 * Agent-side uplink ends all start with this (names.ts uplinkHostLink: prefix + "u" + hash); render checks
 * every uplink against it, because the agent's NAT table matches them by this wildcard.
 */
export function uplinkHostPattern(prefix: string): string {
  return `${prefix}u`;
}

/** A whole table as one atomic script that replaces it, tagged with a hash of its content. */
export function ownedTable(family: OwnedNftTable["family"], name: string, body: string[]): OwnedNftTable {
  const text = body.join("\n");
  const tag = createHash("sha256").update(`${family} ${name}\n${text}`).digest("hex").slice(0, 16);
  const script =
    `table ${family} ${name}\ndelete table ${family} ${name}\n` +
    `table ${family} ${name} {\n  comment "netplugin:${tag}"\n${text}\n}\n`;
  return { family, name, tag, script };
}

/**
 * Rules of a forward chain (filter priority) for a tenant in bridge mode whose namespace forwards anyway (for
 * its uplink, its routed IPv6, its services): routing between two of its bridges is dropped, except for a
 * connection to a service that was DNATed to a provider on another network (renderServices.ts). Bridged
 * traffic passes the hook with the bridge as both input and output; `uplink` (the tenant end) is left to the
 * uplink's tables. Nothing in routing mode.
 */
export function confineBridges(fwdMode: FwdMode, bridges: readonly Pick<BridgeState, "name">[], uplink: string | null): string[] {
  if (fwdMode !== "bridge") return [];
  const allowed = (bridge: string): string => (uplink === null ? `"${bridge}"` : `{ "${bridge}", "${uplink}" }`);
  return ["    ct status dnat accept", ...bridges.map((b) => `    iifname "${b.name}" oifname != ${allowed(b.name)} drop`)];
}

/**
 * The tenant's uplink table: masquerade to the uplink address what leaves through it; let in through it only
 * replies. In bridge mode forwarding is on only for the uplink (and services), so routing between two bridges is
 * dropped here too (`confineBridges`). Routed networks
 * (`routedSubnets`, IPv4 CIDRs) are the exception both ways: their addresses are announced over BGP as they
 * are, so what they send leaves unchanged, and new connections to them come in through the uplink (the
 * policy table still judges them). Published host ports (`forwards`, renderPorts.ts) are DNATed here to
 * their containers, and those connections are let in too (the policy table judges them as well).
 */
export function tenantNatTable(
  uplink: UplinkState,
  fwdMode: FwdMode,
  bridges: readonly Pick<BridgeState, "name">[],
  routedSubnets: string[] = [],
  forwards: PortForward[] = [],
): OwnedNftTable {
  const up = uplink.tenantLink;
  const routed = routedSubnets.length === 0 ? "" : `{ ${routedSubnets.join(", ")} }`;
  return ownedTable("ip", NAT_TABLE, [
    ...tenantPortChains(uplink, forwards),
    "  chain postrouting {",
    "    type nat hook postrouting priority srcnat; policy accept;",
    ...(routed === "" ? [] : [`    oifname "${up}" ip saddr ${routed} accept`]),
    `    oifname "${up}" masquerade`,
    "  }",
    "  chain forward {",
    "    type filter hook forward priority filter; policy accept;",
    `    iifname "${up}" ct state established,related accept`,
    ...(routed === "" ? [] : [`    iifname "${up}" ip daddr ${routed} accept`]),
    ...(forwards.length === 0 ? [] : [`    iifname "${up}" ct status dnat accept`]),
    `    iifname "${up}" drop`,
    ...confineBridges(fwdMode, bridges, up),
    "  }",
  ]);
}

/**
 * The tenant's IPv6 guard on its uplink: IPv6 is never NATed, so only the routed subnets (announced over BGP)
 * may leave through it and only traffic to them may come in; the IPv6 default route carries nothing else. In
 * bridge mode routing between two bridges is dropped (`confineBridges`), as in the NAT table.
 */
export function tenantRoute6Table(uplink: UplinkState, fwdMode: FwdMode, bridges: readonly Pick<BridgeState, "name">[], routedSubnets: string[]): OwnedNftTable {
  const up = uplink.tenantLink;
  const routed = `{ ${routedSubnets.join(", ")} }`;
  return ownedTable("ip6", ROUTE6_TABLE, [
    "  chain forward {",
    "    type filter hook forward priority filter; policy accept;",
    ...(routedSubnets.length === 0 ? [] : [`    iifname "${up}" ip6 daddr ${routed} accept`, `    oifname "${up}" ip6 saddr ${routed} accept`]),
    `    iifname "${up}" drop`,
    `    oifname "${up}" drop`,
    ...confineBridges(fwdMode, bridges, up),
    "  }",
  ]);
}

/** Family of the agent namespace's table (names.ts hostNftTable). */
export const HOST_TABLE_FAMILY = "inet";

/** Where this host's VXLAN sockets listen: an IPv4 VTEP address and UDP port. */
export interface VxlanSocket {
  address: string;
  port: number;
}

/**
 * The agent namespace's outbound NAT: tenants' uplink traffic (already masqueraded to their uplink
 * addresses) leaving through any other interface is masqueraded to that interface's address; forwarding
 * for it is accepted, and one tenant's uplink never reaches another's, in either family (`inet`: routed
 * IPv6 containers have /128 routes through their tenants' uplinks too). An agent of an earlier version
 * kept this table in the `ip` family: the script removes that one in the same transaction.
 *
 * The NAT makes the kernel track every connection of the namespace, the overlay's own UDP included,
 * which gains nothing from it (VXLAN is stateless, never NATed, and a firewall has to let it in by port
 * either way: each direction starts as new). Those packets are exempt (`notrack`): a few per cent of the
 * overlay's packet rate.
 *
 * Published host ports (`forwards`) are DNATed to their tenants' uplinks (renderPorts.ts).
 */
export function hostNatTable(prefix: string, name: string, vxlanSockets: VxlanSocket[] = [], forwards: HostPortForward[] = [], uplinkRange = UPLINK_RANGE): OwnedNftTable {
  const uplinks = `${uplinkHostPattern(prefix)}*`;
  const ports = hostPortChains(uplinks, forwards);
  const untracked = (field: "daddr" | "saddr") =>
    vxlanSockets.map((s) => `    ip ${field} ${s.address} udp dport ${s.port} notrack`);
  const notrack =
    vxlanSockets.length === 0
      ? []
      : [
          "  chain vxlan_in {",
          "    type filter hook prerouting priority raw; policy accept;",
          ...untracked("daddr"),
          "  }",
          "  chain vxlan_out {",
          "    type filter hook output priority raw; policy accept;",
          ...untracked("saddr"),
          "  }",
        ];
  const table = ownedTable(HOST_TABLE_FAMILY, name, [
    ...notrack,
    ...ports.chains,
    "  chain postrouting {",
    "    type nat hook postrouting priority srcnat; policy accept;",
    `    ip saddr ${uplinkRange} oifname != "${uplinks}" masquerade`,
    ...ports.postrouting,
    "  }",
    "  chain forward {",
    "    type filter hook forward priority filter; policy accept;",
    ...ports.forward,
    `    iifname "${uplinks}" oifname "${uplinks}" drop`,
    `    iifname "${uplinks}" ip saddr ${uplinkRange} accept`,
    `    oifname "${uplinks}" ct state established,related accept`,
    "  }",
  ]);
  return { ...table, script: `table ip ${name}\ndelete table ip ${name}\n${table.script}` };
}

function ip(value: string, family: 4 | 6 | null, path: string, issues: IssueList): string | null {
  const address = canonicalIp(value);
  if (address === null || (family !== null && familyOf(address) !== family)) {
    issues.add(path, `invalid ${family === null ? "" : `IPv${family} `}address "${value}"`);
    return null;
  }
  return address;
}

export function renderVxlan(network: DesiredNetwork, path: string, issues: IssueList): VxlanState | null {
  const v = network.vxlan;
  if (v === undefined) return null;
  if (!Number.isInteger(v.vni) || v.vni < 1 || v.vni > VNI_MAX) issues.add(`${path}.vni`, `invalid VNI ${v.vni}`);
  issues.name(`${path}.device`, v.device, IFNAME, "device name");
  if (!Number.isInteger(v.port) || v.port < 1 || v.port > 65_535) issues.add(`${path}.port`, `invalid port ${v.port}`);
  if (v.arpMode !== "proxy" && v.arpMode !== "flood") issues.add(`${path}.arpMode`, `invalid ARP mode "${String(v.arpMode)}"`);
  const local = ip(v.localVtep, null, `${path}.localVtep`, issues) ?? v.localVtep;

  const peers = new Set<string>();
  v.peers.forEach((peer, i) => {
    const address = ip(peer, null, `${path}.peers[${i}]`, issues);
    if (address === local) issues.add(`${path}.peers[${i}]`, `peer ${peer} is the local VTEP`);
    else if (address !== null) peers.add(address);
  });

  const proxy = v.arpMode === "proxy";
  const remotes = new Map<string, RemoteMac>();
  const neighbours = new Map<string, ProxyNeighbour>();
  v.remotes.forEach((remote, i) => {
    const at = `${path}.remotes[${i}]`;
    const mac = canonicalMac(remote.mac);
    if (mac === null) issues.add(`${at}.mac`, `invalid MAC "${remote.mac}"`);
    const vtep = ip(remote.vtep, null, `${at}.vtep`, issues);
    if (mac === null || vtep === null) return;
    const twin = remotes.get(mac);
    if (twin !== undefined && twin.vtep !== vtep) issues.add(`${at}.mac`, `MAC ${mac} is on two VTEPs`);
    if (twin === undefined) remotes.set(mac, { mac, vtep, endpoint: remote.id });
    for (const [field, family] of [["ipv4", 4], ["ipv6", 6]] as const) {
      if (remote[field] === "") continue;
      const address = ip(remote[field], family, `${at}.${field}`, issues);
      if (address === null || !proxy) continue;
      const other = neighbours.get(address);
      if (other !== undefined && other.mac !== mac) issues.add(`${at}.${field}`, `address ${address} has two MACs`);
      if (other === undefined) neighbours.set(address, { ip: address, mac, endpoint: remote.id });
    }
  });

  return {
    device: v.device,
    bridge: network.bridge,
    network: network.name,
    vni: v.vni,
    local,
    port: v.port,
    proxy,
    mtu: network.mtu,
    peers: [...peers].sort(compareText),
    remotes: [...remotes.values()].sort((a, b) => compareText(a.mac, b.mac)),
    neighbours: [...neighbours.values()].sort((a, b) => compareText(a.ip, b.ip)),
  };
}

export function renderUplink(uplink: DesiredUplink, prefix: string, path: string, issues: IssueList): UplinkState {
  issues.name(`${path}.hostLink`, uplink.hostLink, IFNAME, "interface name");
  if (!uplink.hostLink.startsWith(uplinkHostPattern(prefix))) {
    issues.add(`${path}.hostLink`, `uplink "${uplink.hostLink}" does not start with "${uplinkHostPattern(prefix)}"`);
  }
  issues.name(`${path}.tenantLink`, uplink.tenantLink, IFNAME, "interface name");
  const v4 = (field: "hostAddr" | "tenantAddr"): [string, number] | null => {
    const cidr = parseCidr(uplink[field]);
    if (cidr === null || familyOf(cidr[0]) !== 4) {
      issues.add(`${path}.${field}`, `invalid IPv4 address "${uplink[field]}"`);
      return null;
    }
    return cidr;
  };
  const host = v4("hostAddr");
  const tenant = v4("tenantAddr");
  const routes = new Set<string>();
  (uplink.routes ?? []).forEach((address, i) => {
    const canonical = ip(address, null, `${path}.routes[${i}]`, issues);
    if (canonical !== null) routes.add(`${canonical}/${familyOf(canonical) === 4 ? 32 : 128}`);
  });
  const byFamily = (a: string, b: string): number => (a.includes(":") === b.includes(":") ? compareText(a, b) : a.includes(":") ? 1 : -1);
  const sorted = [...routes].sort(byFamily);
  return {
    hostLink: uplink.hostLink,
    tenantLink: uplink.tenantLink,
    hostAddr: host === null ? uplink.hostAddr : `${host[0]}/${host[1]}`,
    tenantAddr: tenant === null ? uplink.tenantAddr : `${tenant[0]}/${tenant[1]}`,
    gateway: host?.[0] ?? "",
    routes: sorted,
    tenantGateway: tenant?.[0] ?? "",
    ipv6: sorted.some((r) => r.includes(":")),
  };
}

export function renderHostEndpoint(
  endpoint: DesiredHostEndpoint,
  prefix: string,
  path: string,
  networks: Map<string, DesiredNetwork>,
  issues: IssueList,
): HostEndpointState {
  const network = networks.get(endpoint.network);
  if (network === undefined) issues.add(`${path}.network`, `unknown network "${endpoint.network}"`);
  issues.name(`${path}.hostLink`, endpoint.hostLink, IFNAME, "interface name");
  if (!endpoint.hostLink.startsWith(prefix)) issues.add(`${path}.hostLink`, `"${endpoint.hostLink}" does not carry the prefix "${prefix}"`);
  issues.name(`${path}.tenantLink`, endpoint.tenantLink, IFNAME, "interface name");
  const address = canonicalCidr(endpoint.address);
  if (address === null) issues.add(`${path}.address`, `invalid address "${endpoint.address}"`);
  const mac = canonicalMac(endpoint.mac);
  if (mac === null) issues.add(`${path}.mac`, `invalid MAC "${endpoint.mac}"`);
  const mtu = endpoint.mtu > 0 ? endpoint.mtu : (network?.mtu ?? 0);
  if (!Number.isInteger(mtu) || mtu < 68) issues.add(`${path}.mtu`, `invalid MTU ${endpoint.mtu}`);
  return {
    network: endpoint.network,
    bridge: network?.bridge ?? "",
    hostLink: endpoint.hostLink,
    tenantLink: endpoint.tenantLink,
    address: address ?? endpoint.address,
    mac: mac ?? endpoint.mac,
    mtu,
  };
}
