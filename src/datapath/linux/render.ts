// Pure: DesiredHost → the kernel state the host must have (HostState). Every decision
// about what exists and how it is configured is made here or in diff.ts; apply.ts only
// carries out a plan. Input that cannot be rendered is a ValidationError listing each path.

import { tenantNamespace } from "../names.js";
import type { DesiredEndpoint, DesiredHost, DesiredNetwork, DesiredTenant, FwdMode } from "../types.js";
import { ValidationError, type Issue } from "../../lib/errors.js";
import { canonicalCidr, canonicalIp, canonicalMac, gatewayMac, ifbName, parseCidr } from "./addr.js";
import type { BridgeState, EndpointState, HostState, Shaper, Sysctl, TenantState } from "./state.js";

/** Interface names the kernel accepts (IFNAMSIZ 16 incl. NUL; no '/', ':' or whitespace). */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
/** Tokens we put on ip/tc batch lines must not contain whitespace or quotes. */
const TOKEN = /^[^\s"'\\#]+$/;

/** Queueing latency of the tbf shapers: bounds the queue to rate × 50 ms + burst. */
export const TBF_LATENCY = "50ms";


/**
 * Sysctls of a tenant namespace. DAD is off for every link made there (bridges, host veths), so
 * gateway addresses are usable at once; br_netfilter passes bridged packets through the inet hooks
 * (policy sees traffic between two endpoints of one network); forwarding is on only in routing
 * mode, which is what keeps bridge-mode networks apart at L3.
 */
export function tenantSysctls(fwdMode: FwdMode): Sysctl[] {
  const forward = fwdMode === "routing" ? "1" : "0";
  return [
    { key: "net.ipv6.conf.all.accept_dad", value: "0" },
    { key: "net.ipv6.conf.default.accept_dad", value: "0" },
    { key: "net.bridge.bridge-nf-call-iptables", value: "1" },
    { key: "net.bridge.bridge-nf-call-ip6tables", value: "1" },
    { key: "net.ipv4.ip_forward", value: forward },
    { key: "net.ipv6.conf.all.forwarding", value: forward },
  ];
}

/** Burst when none is given: 10 ms at the rate, at least four full frames. */
export function defaultBurst(rateBytes: number, mtu: number): number {
  return Math.max(Math.ceil(rateBytes / 100), 4 * (mtu + 14));
}

function shaper(bps: number, burstBytes: number, mtu: number): Shaper | null {
  if (bps <= 0) return null;
  const rateBytes = Math.max(1, Math.floor(bps / 8));
  return { rateBytes, burstBytes: burstBytes > 0 ? burstBytes : defaultBurst(rateBytes, mtu) };
}

class IssueList {
  readonly issues: Issue[] = [];
  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }
  name(path: string, value: string, pattern: RegExp, what: string): void {
    if (!pattern.test(value)) this.add(path, `invalid ${what} "${value}"`);
  }
}

function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function renderBridge(network: DesiredNetwork, path: string, issues: IssueList): BridgeState {
  issues.name(`${path}.bridge`, network.bridge, IFNAME, "bridge name");
  if (!Number.isInteger(network.mtu) || network.mtu < 68) issues.add(`${path}.mtu`, `invalid MTU ${network.mtu}`);
  const addresses: string[] = [];
  const gateway = (value: string, subnet: string, field: string, subnetField: string): void => {
    if (value === "") return;
    const address = canonicalIp(value);
    const cidr = parseCidr(subnet);
    if (address === null) issues.add(`${path}.${field}`, `invalid address "${value}"`);
    else if (cidr === null) issues.add(`${path}.${subnetField}`, `invalid subnet "${subnet}"`);
    else addresses.push(`${address}/${cidr[1]}`);
  };
  gateway(network.gateway, network.subnet, "gateway", "subnet");
  gateway(network.ipv6Gateway, network.ipv6Subnet, "ipv6Gateway", "ipv6Subnet");
  return { name: network.bridge, mac: gatewayMac(network.bridge), mtu: network.mtu, mcastSnooping: true, addresses };
}

function renderEndpoint(
  endpoint: DesiredEndpoint,
  path: string,
  networks: Map<string, DesiredNetwork>,
  issues: IssueList,
): EndpointState {
  const network = networks.get(endpoint.network);
  if (network === undefined) issues.add(`${path}.network`, `unknown network "${endpoint.network}"`);
  issues.name(`${path}.hostLink`, endpoint.hostLink, IFNAME, "interface name");
  issues.name(`${path}.ifname`, endpoint.ifname, IFNAME, "interface name");
  issues.name(`${path}.netns`, endpoint.netns, TOKEN, "namespace path");
  if (!endpoint.netns.startsWith("/")) issues.add(`${path}.netns`, `namespace path "${endpoint.netns}" is not absolute`);
  const mtu = endpoint.mtu > 0 ? endpoint.mtu : (network?.mtu ?? 0);
  if (!Number.isInteger(mtu) || mtu < 68) issues.add(`${path}.mtu`, `invalid MTU ${endpoint.mtu}`);
  const mac = canonicalMac(endpoint.mac);
  if (mac === null) issues.add(`${path}.mac`, `invalid MAC "${endpoint.mac}"`);

  const addresses: string[] = [];
  for (const field of ["ipv4", "ipv6"] as const) {
    const value = endpoint[field];
    if (value === "") continue;
    const cidr = canonicalCidr(value);
    if (cidr === null) issues.add(`${path}.${field}`, `invalid address "${value}"`);
    else addresses.push(cidr);
  }
  if (endpoint.ipv4 === "") issues.add(`${path}.ipv4`, "an endpoint needs an IPv4 address");

  const routes: EndpointState["container"]["routes"] = [];
  for (const [field, family] of [["gateway", 4], ["ipv6Gateway", 6]] as const) {
    const value = endpoint[field];
    if (value === "") continue;
    const via = canonicalIp(value);
    if (via === null) issues.add(`${path}.${field}`, `invalid address "${value}"`);
    else routes.push({ family, via });
  }

  const { egressBps, ingressBps, burstBytes } = endpoint.qos;
  const egress = shaper(egressBps, burstBytes, mtu);
  return {
    id: endpoint.id,
    hostLink: endpoint.hostLink,
    bridge: network?.bridge ?? "",
    mtu,
    container: { netns: endpoint.netns, ifname: endpoint.ifname, mac: mac ?? endpoint.mac, mtu, addresses, routes },
    ingressLimit: shaper(ingressBps, burstBytes, mtu),
    egressLimit: egress === null ? null : { ifb: ifbName(endpoint.hostLink), shaper: egress },
  };
}

function renderTenant(tenant: DesiredTenant, path: string, prefix: string, issues: IssueList): TenantState {
  if (!tenant.namespace.startsWith(tenantNamespace(prefix, ""))) {
    issues.add(`${path}.namespace`, `namespace "${tenant.namespace}" is not a tenant namespace of "${prefix}"`);
  }
  issues.name(`${path}.namespace`, tenant.namespace, /^[A-Za-z0-9_.-]{1,200}$/, "namespace name");
  const networks = new Map<string, DesiredNetwork>();
  const bridges = tenant.networks.map((network, i) => {
    if (networks.has(network.name)) issues.add(`${path}.networks[${i}].name`, `duplicate network "${network.name}"`);
    networks.set(network.name, network);
    return renderBridge(network, `${path}.networks[${i}]`, issues);
  });
  const hostLinks = new Set<string>();
  const endpoints = tenant.endpoints.map((endpoint, i) => {
    if (hostLinks.has(endpoint.hostLink)) issues.add(`${path}.endpoints[${i}].hostLink`, `duplicate link "${endpoint.hostLink}"`);
    hostLinks.add(endpoint.hostLink);
    return renderEndpoint(endpoint, `${path}.endpoints[${i}]`, networks, issues);
  });
  return {
    tenant: tenant.name,
    namespace: tenant.namespace,
    sysctls: tenantSysctls(tenant.fwdMode),
    bridges: bridges.sort(byName),
    endpoints: endpoints.sort((a, b) => byName({ name: a.hostLink }, { name: b.hostLink })),
    nftScript: tenant.nftScript,
  };
}

/** Computes the kernel state for a host; throws ValidationError listing every bad field. */
export function renderHost(desired: DesiredHost): HostState {
  const issues = new IssueList();
  if (!/^[A-Za-z0-9]{3,}$/.test(desired.prefix)) issues.add("prefix", `invalid prefix "${desired.prefix}"`);
  const seen = new Set<string>();
  const tenants = desired.tenants.map((tenant, i) => {
    if (seen.has(tenant.namespace)) issues.add(`tenants[${i}].namespace`, `duplicate namespace "${tenant.namespace}"`);
    seen.add(tenant.namespace);
    return renderTenant(tenant, `tenants[${i}]`, desired.prefix, issues);
  });
  if (issues.issues.length > 0) {
    const first = issues.issues[0]!;
    throw new ValidationError(
      `Cannot render the datapath of "${desired.prefix}": ${first.path}: ${first.message}`,
      issues.issues,
    );
  }
  tenants.sort((a, b) => byName({ name: a.namespace }, { name: b.namespace }));
  return { prefix: desired.prefix, tenants };
}
