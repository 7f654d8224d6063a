// Reads what the kernel holds into ObservedHost, touching only what we own: tenant
// namespaces of our prefix (every link in them is ours), and in each container namespace
// only the interface a desired endpoint names (none where the runtime owns the container
// side). Read-only: nothing here changes the kernel.
// A run may read only part of the host (ObserveOptions.scope, chosen by incremental.ts); the
// container sides it does not read are taken as applied (appliedContainer), or, for endpoints new in
// their tenant, as not made yet (containerNotMade).

import { existsSync } from "node:fs";

import { NFT_TABLE, tenantNamespace } from "../names.js";
import { canonicalIp } from "./addr.js";
import { ProcessError, type Executor } from "../../lib/process.js";
import { containerCommand, hostCommand, isNotFound } from "./tools.js";
import { mapLimit } from "./mapLimit.js";
import {
  defaultRoutes,
  hasNftTable,
  type IpLink,
  linkAddresses,
  linkKind,
  linkLocalAddresses,
  linkMac,
  linkNoPrefixRoute,
  linkUp,
  nftTableTag,
  parseDefaultRoutes,
  parseLbBackends,
  parseFdb,
  parseHostRoutes,
  parseLinks,
  parseNeighbours,
  parseNetnsList,
  parseProxyNeighbours,
  parseQdiscs,
  parseRedirects,
  parseRoutes,
  parseSysctls,
  splitBatchJson,
} from "./parse.js";
import { containerNotMade, emptyTenant } from "./assumed.js";
import { HOST_GROUP } from "./plan.js";
import type { ObserveScope } from "./incremental.js";
import { settledObservation, type SettledPart } from "./settled.js";
import { offloadDevices, parseFeatures, readFeaturesArgv } from "./offloads.js";
import { HOST_TABLE_FAMILY, NAT_TABLE, ROUTE6_TABLE } from "./renderOverlay.js";
import { LB_TABLE } from "./renderServices.js";
import type {
  EndpointState,
  HostState,
  ObservedContainer,
  ObservedHost,
  ObservedHostNamespace,
  ObservedRedirect,
  ObservedTenant,
  ObservedVxlan,
  OwnedNftTable,
  TenantState,
} from "./state.js";

export interface ObserveOptions {
  /** Tenants read at the same time; default 4. */
  concurrency?: number;
  /** Named namespace standing in for the agent's own (tests that simulate hosts); default: the process's. */
  hostNamespace?: string;
  signal?: AbortSignal;
  /** What to read (incremental.ts); default: list the namespaces and read everything. */
  scope?: ObserveScope;
}

/** Every namespace name `ip netns list` shows. */
export async function listNamespaces(executor: Executor, signal?: AbortSignal): Promise<string[]> {
  const argv = ["ip", "-json", "netns", "list"];
  return parseNetnsList(await executor.run(argv, { signal }), argv);
}

/** Of `namespaces`, the tenant namespaces of this prefix, sorted. */
export function tenantNamespacesOf(namespaces: string[], prefix: string): string[] {
  const start = tenantNamespace(prefix, "");
  return namespaces.filter((name) => name.startsWith(start)).sort();
}

/** ip, run inside a container's namespace given by path. */
function containerIp(path: string, args: string[]): string[] {
  return containerCommand(path, ["ip", ...args]);
}

export function isMissingNamespace(error: unknown): boolean {
  // "nsenter: cannot open PATH: No such file or directory", or a path that is no namespace (a bind mount
  // already gone): "reassociate to namespace 'ns/net' failed: Invalid argument"; from `ip -n NAME`: "Cannot
  // open network namespace "NAME": …", "setting the network namespace "NAME" failed: …".
  return error instanceof ProcessError && /nsenter: (cannot open|reassociate)|Cannot open network namespace|setting the network namespace/.test(error.stderr);
}

export async function observeContainer(
  executor: Executor,
  endpoint: EndpointState,
  signal?: AbortSignal,
): Promise<ObservedContainer> {
  const { netns, ifname } = endpoint.container;
  const argv = containerIp(netns, ["-json", "-d", "-batch", "-"]);
  let stdout: string;
  try {
    stdout = await executor.run(argv, { stdin: "addr show\nroute show table all\n", signal });
  } catch (error) {
    if (isMissingNamespace(error)) {
      return { hostLink: endpoint.hostLink, netns, netnsMissing: true, link: null, routes: [] };
    }
    throw error;
  }
  const [linkText, routeText] = splitBatchJson(stdout, 2, argv);
  const link = parseLinks(linkText!, argv).find((l) => l.ifname === ifname);
  return {
    hostLink: endpoint.hostLink,
    netns,
    netnsMissing: false,
    link:
      link === undefined
        ? null
        : {
            ifname,
            ifindex: link.ifindex,
            peerIfindex: link.link_index ?? null,
            kind: linkKind(link),
            mac: linkMac(link),
            mtu: link.mtu,
            up: linkUp(link),
            addresses: linkAddresses(link),
          },
    routes: link === undefined ? [] : defaultRoutes(parseRoutes(routeText!, argv), ifname),
  };
}

async function readRedirects(
  executor: Executor,
  namespace: string,
  devs: string[],
  signal?: AbortSignal,
): Promise<ObservedRedirect[]> {
  if (devs.length === 0) return [];
  const argv = ["tc", "-n", namespace, "-json", "-batch", "-"];
  const stdout = await executor.run(argv, { stdin: devs.map((d) => `filter show dev ${d} ingress\n`).join(""), signal });
  const docs = splitBatchJson(stdout, devs.length, argv);
  return devs.flatMap((dev, i) => parseRedirects(dev, docs[i]!, argv));
}

function observeVxlan(l: IpLink): ObservedVxlan {
  const data = l.linkinfo?.info_data;
  const port = l.linkinfo?.info_slave_kind === "bridge" ? l.linkinfo.info_slave_data : undefined;
  const local = data?.local ?? data?.local6;
  return {
    name: l.ifname,
    vni: data?.id ?? null,
    local: local === undefined ? null : (canonicalIp(local) ?? local),
    port: data?.port ?? null,
    proxy: data?.proxy === true,
    learning: data?.learning !== false,
    ttl: data?.ttl ?? null,
    mtu: l.mtu,
    up: linkUp(l),
    master: l.master ?? null,
    portLearning: port === undefined ? null : port.learning !== false,
    mcastRouter: port?.multicast_router ?? null,
  };
}

/** Runs `nft list table FAMILY NAME` and returns its netplugin tag, or null when the table does not exist. */
async function readTableTag(
  executor: Executor,
  argv: string[],
  netns: string | undefined,
  signal?: AbortSignal,
): Promise<string | null> {
  try {
    return nftTableTag(await executor.run(argv, { ...(netns === undefined ? {} : { netns }), signal }));
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

/**
 * The container side of an endpoint whose container side this process applied and has not changed since
 * (incremental.ts), as applied: paired with the host-side veth observed now. A veth's two ends live and die
 * together, so that end being there means the container side is too (a container namespace that is
 * deleted takes its end, and so the pair, along).
 */
function appliedContainer(endpoint: EndpointState, vethIfindex: number, peerIfindex: number): ObservedContainer {
  const { netns, ifname, mac, mtu, addresses, routes } = endpoint.container;
  return {
    hostLink: endpoint.hostLink,
    netns,
    netnsMissing: false,
    link: { ifname, ifindex: peerIfindex, peerIfindex: vethIfindex, kind: "veth", mac, mtu, up: true, addresses },
    routes,
  };
}

export interface ObserveTenantOptions {
  signal?: AbortSignal;
  /** Host links whose container sides are taken as applied when the host-side veth is there (read otherwise); default none. */
  trusted?: ReadonlySet<string>;
  /**
   * Host links whose container sides are taken as not made yet when neither the host-side veth is there nor the
   * namespace is missing (read otherwise); default none.
   */
  fresh?: ReadonlySet<string>;
  /** Read the offload features of its devices (offloads.ts); default true. */
  offloads?: boolean;
  /** Parts taken as applied instead of read (settled.ts); default none. */
  settled?: ReadonlySet<SettledPart>;
}

/** Reads one tenant namespace and the containers its endpoints name (see ObserveTenantOptions for what it skips). */
export async function observeTenant(
  executor: Executor,
  tenant: TenantState,
  exists: boolean,
  options: ObserveTenantOptions = {},
): Promise<ObservedTenant> {
  const { signal, trusted = new Set<string>(), fresh = new Set<string>(), offloads = true, settled = new Set<SettledPart>() } = options;
  const ns = tenant.namespace;
  const read = (endpoints: EndpointState[]): Promise<ObservedContainer[]> =>
    Promise.all(endpoints.map((e) => observeContainer(executor, e, signal)));
  // A runtime's container side is never read: its host-side veth tells all diff needs.
  const ours = tenant.endpoints.filter((e) => e.containerSide === "ours");
  if (!exists) return emptyTenant(ns, await read(ours));

  const ipArgv = ["ip", "-n", ns, "-json", "-d", "-batch", "-"];
  const qdiscArgv = ["tc", "-n", ns, "-json", "qdisc", "show"];
  const nftArgv = ["nft", "-j", "list", "tables"];
  const fdbArgv = ["bridge", "-n", ns, "-json", "fdb", "show"];
  const unless = (part: SettledPart, reading: () => Promise<string>): Promise<string | null> =>
    settled.has(part) ? Promise.resolve(null) : reading();
  const [ipText, sysctlText, qdiscText, nftText, fdbText, untrusted] = await Promise.all([
    // "table all" lists both families in one batch line (the parsers keep the main table).
    executor.run(ipArgv, { stdin: "addr show\nroute show table all\nneigh show\nneigh show proxy\n", signal }),
    // Bridge sysctls of bridges that do not exist yet are left out by -e (and so planned).
    unless("sysctls", () =>
      executor.run(["sysctl", "-e", ...tenant.sysctls.map((s) => s.key), ...tenant.bridges.flatMap((b) => b.sysctls.map((s) => s.key))], {
        netns: ns,
        signal,
      }),
    ),
    unless("qdiscs", () => executor.run(qdiscArgv, { signal })),
    unless("nftTables", () => executor.run(nftArgv, { netns: ns, signal })),
    // FDB entries matter only on VXLAN devices we keep; an unwanted device goes whole.
    unless("fdb", () => (tenant.vxlans.length > 0 ? executor.run(fdbArgv, { signal }) : Promise.resolve(""))),
    read(ours.filter((e) => !trusted.has(e.hostLink) && !fresh.has(e.hostLink))),
  ]);
  const [linkText, routeText, neighText, proxyText] = splitBatchJson(ipText, 4, ipArgv);
  const links = parseLinks(linkText!, ipArgv);
  const routes = parseRoutes(routeText!, ipArgv);
  const bridgeNames = new Set(links.filter((l) => linkKind(l) === "bridge").map((l) => l.ifname));
  const linkNames = new Set(links.map((l) => l.ifname));
  const shapers = qdiscText === null ? settledObservation.qdiscs(tenant, linkNames) : null;
  const qdiscs = shapers?.qdiscs ?? parseQdiscs(qdiscText!, qdiscArgv);
  const veths = links.filter((l) => linkKind(l) === "veth");
  const applied: ObservedContainer[] = [];
  const unpaired: EndpointState[] = [];
  for (const endpoint of ours.filter((e) => trusted.has(e.hostLink))) {
    const veth = veths.find((v) => v.ifname === endpoint.hostLink);
    if (veth?.link_index !== undefined) applied.push(appliedContainer(endpoint, veth.ifindex, veth.link_index));
    else unpaired.push(endpoint);
  }
  for (const endpoint of ours.filter((e) => fresh.has(e.hostLink))) {
    const made = veths.some((v) => v.ifname === endpoint.hostLink);
    if (!made && existsSync(endpoint.container.netns)) applied.push(containerNotMade(endpoint));
    else unpaired.push(endpoint);
  }
  const vxlans = links.filter((l) => linkKind(l) === "vxlan").map(observeVxlan);
  const ingressDevs = veths
    .map((v) => v.ifname)
    .filter((dev) => qdiscs.some((q) => q.dev === dev && q.kind === "ingress"));
  // A table we render whole: its tag is read only when it is wanted ("" stands for one to delete).
  const tagOf = (family: string, name: string, wanted: OwnedNftTable | null): Promise<string | null> | string | null =>
    nftText === null ? (wanted?.tag ?? null)
    : !hasNftTable(nftText, family, name, nftArgv) ? null
    : wanted === null ? ""
    : readTableTag(executor, ["nft", "list", "table", family, name], ns, signal);
  const featureDevices = offloads ? offloadDevices(tenant).map((d) => d.device).filter((d) => linkNames.has(d)) : [];
  const [natTag, route6Tag, lbTag, redirects, late, featureText] = await Promise.all([
    tagOf("ip", NAT_TABLE, tenant.natTable),
    tagOf("ip6", ROUTE6_TABLE, tenant.route6Table),
    tagOf("inet", LB_TABLE, tenant.lbTable),
    shapers?.redirects ?? readRedirects(executor, ns, ingressDevs, signal),
    read(unpaired),
    featureDevices.length === 0 ? Promise.resolve(undefined) : executor.run(readFeaturesArgv(featureDevices), { netns: ns, signal }),
  ]);
  // Only a table about to change is read whole: the conntrack entries of what it alone sends to go after the change.
  const lbArgv = ["nft", "-j", "list", "table", "inet", LB_TABLE];
  const lbBackends =
    lbTag === null || lbTag === tenant.lbTable?.tag ? null : parseLbBackends(await executor.run(lbArgv, { netns: ns, signal }), lbArgv);

  return {
    namespace: ns,
    exists: true,
    sysctls: sysctlText === null ? settledObservation.sysctls(tenant) : parseSysctls(sysctlText),
    loopbackUp: links.some((l) => l.ifname === "lo" && linkUp(l)),
    bridges: links
      .filter((l) => linkKind(l) === "bridge")
      .map((l) => ({
        name: l.ifname,
        mac: linkMac(l),
        mtu: l.mtu,
        up: linkUp(l),
        mcastSnooping: l.linkinfo?.info_data?.mcast_snooping !== 0,
        mcastQuerier: l.linkinfo?.info_data?.mcast_querier === 1,
        netfilter: l.linkinfo?.info_data?.nf_call_iptables === 1 && l.linkinfo.info_data.nf_call_ip6tables === 1,
        addresses: linkAddresses(l),
        noPrefixRoute: linkNoPrefixRoute(l),
      })),
    veths: veths.map((l) => ({
      name: l.ifname,
      ifindex: l.ifindex,
      peerIfindex: l.link_index ?? null,
      master: l.master ?? null,
      mtu: l.mtu,
      up: linkUp(l),
      addresses: linkAddresses(l),
      linkLocal: linkLocalAddresses(l),
      hairpin: l.linkinfo?.info_slave_data?.hairpin === true,
    })),
    ifbs: links.filter((l) => linkKind(l) === "ifb").map((l) => ({ name: l.ifname, mtu: l.mtu, up: linkUp(l) })),
    qdiscs,
    redirects,
    containers: [...untrusted, ...applied, ...late],
    // Settled: a run without failure made the policy table where it was missing (diff.ts diffNft).
    nftTable: nftText === null || hasNftTable(nftText, "inet", NFT_TABLE, nftArgv),
    vxlans,
    fdb: fdbText === null ? settledObservation.fdb(tenant) : parseFdb(fdbText, new Set(vxlans.map((v) => v.name)), fdbArgv),
    neighbours: parseNeighbours(neighText!, ipArgv).filter((n) => vxlans.some((v) => v.name === n.dev)),
    routes: parseDefaultRoutes(routes),
    hostRoutes: parseHostRoutes(routes)
      .filter((r) => r.via === null && bridgeNames.has(r.dev))
      .map((r) => ({ dst: r.dst, dev: r.dev })),
    proxyNeighbours: parseProxyNeighbours(proxyText!, ipArgv).filter((n) => bridgeNames.has(n.dev)),
    natTag,
    route6Tag,
    lbTag,
    lbBackends,
    ...(featureText === undefined ? {} : { offloads: parseFeatures(featureText) }),
  };
}

/**
 * Reads what we own in the agent's own namespace: links carrying the prefix (agent-side ends of uplinks
 * and host endpoints), ip_forward and the uplinks' route_localnet, and our NAT table's tag.
 */
export async function observeHostNamespace(
  executor: Executor,
  wanted: HostState,
  hostNamespace?: string,
  signal?: AbortSignal,
): Promise<ObservedHostNamespace> {
  const linkCmd = hostCommand(["ip", "-json", "-d", "addr", "show"], hostNamespace);
  // route_localnet of every wanted uplink's agent-side end (diffUplink); -e: a link not made yet is skipped.
  const localnets = wanted.tenants.flatMap((t) => (t.uplink === null ? [] : [`net.ipv4.conf.${t.uplink.hostLink}.route_localnet`]));
  const sysctlCmd = hostCommand(["sysctl", "-e", "net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding", ...localnets], hostNamespace);
  const nftCmd = hostCommand(["nft", "list", "table", HOST_TABLE_FAMILY, wanted.host.nftName], hostNamespace);
  const routeCmd = hostCommand(["ip", "-json", "route", "show"], hostNamespace);
  const route6Cmd = hostCommand(["ip", "-json", "-6", "route", "show"], hostNamespace);
  const runCmd = (cmd: { argv: string[]; netns?: string | undefined }): Promise<string> =>
    executor.run(cmd.argv, { ...(cmd.netns === undefined ? {} : { netns: cmd.netns }), signal });
  const [linkText, sysctlText, nftTag, routeText, route6Text] = await Promise.all([
    runCmd(linkCmd),
    runCmd(sysctlCmd),
    readTableTag(executor, nftCmd.argv, nftCmd.netns, signal),
    runCmd(routeCmd),
    runCmd(route6Cmd),
  ]);
  return {
    links: parseLinks(linkText, linkCmd.argv)
      .filter((l) => l.ifname.startsWith(wanted.prefix))
      .map((l) => ({
        name: l.ifname,
        kind: linkKind(l),
        ifindex: l.ifindex,
        peerIfindex: l.link_index ?? null,
        mac: linkMac(l),
        mtu: l.mtu,
        up: linkUp(l),
        addresses: linkAddresses(l),
        linkLocal: linkLocalAddresses(l),
      })),
    // Ours: host routes through a gateway on a link carrying the prefix (routed containers behind uplinks).
    routes: parseHostRoutes([...parseRoutes(routeText, routeCmd.argv), ...parseRoutes(route6Text, route6Cmd.argv)])
      .filter((r) => r.via !== null && r.dev.startsWith(wanted.prefix))
      .map((r) => ({ dst: r.dst, via: r.via!, dev: r.dev })),
    sysctls: parseSysctls(sysctlText),
    nftTag,
  };
}

/**
 * Reads the kernel state of the wanted tenants and of the agent's namespace that `options.scope` names (all by
 * default), and what is in tenant namespaces no longer wanted; a tenant that cannot be read is a failure,
 * not a throw.
 */
export async function observeHost(
  executor: Executor,
  wanted: HostState,
  options: ObserveOptions = {},
): Promise<ObservedHost> {
  const namespaces = options.scope?.namespaces ?? tenantNamespacesOf(await listNamespaces(executor, options.signal), wanted.prefix);
  const existing = new Set(namespaces);
  const observed: ObservedHost = { namespaces, tenants: [], unwanted: [], failures: [], host: null };
  const readHost = options.scope?.host ?? true;
  const host = (readHost ? observeHostNamespace(executor, wanted, options.hostNamespace, options.signal) : Promise.resolve(null)).then(
    (value) => {
      observed.host = value;
    },
    (error: unknown) => {
      observed.failures.push({ namespace: HOST_GROUP, error: error instanceof Error ? error : new Error(String(error)) });
    },
  );
  const wantedNames = new Set([...wanted.tenants.map((t) => t.namespace), ...wanted.frozen]);
  await mapLimit(
    namespaces.filter((ns) => !wantedNames.has(ns)),
    options.concurrency ?? 4,
    async (namespace) => {
      const argv = ["ip", "-n", namespace, "-json", "-d", "link", "show"];
      // Unreadable: the namespace is deleted anyway, only not its veths first.
      const text = await executor.run(argv, { signal: options.signal }).catch(() => "[]");
      const links = parseLinks(text, argv);
      const named = (kind: string): string[] => links.filter((l) => linkKind(l) === kind).map((l) => l.ifname);
      observed.unwanted.push({ namespace, veths: named("veth"), vxlans: named("vxlan") });
    },
  );
  const scope = options.scope?.tenants;
  const read = scope === undefined ? wanted.tenants : wanted.tenants.filter((t) => scope.has(t.namespace));
  await mapLimit(read, options.concurrency ?? 4, async (tenant) => {
    try {
      const trusted = scope?.get(tenant.namespace);
      const fresh = options.scope?.fresh?.get(tenant.namespace);
      const whole = options.scope?.whole?.has(tenant.namespace) ?? true;
      const settled = options.scope?.settled?.get(tenant.namespace);
      observed.tenants.push(
        await observeTenant(executor, tenant, existing.has(tenant.namespace), {
          ...(options.signal === undefined ? {} : { signal: options.signal }),
          ...(trusted === undefined ? {} : { trusted }),
          ...(fresh === undefined ? {} : { fresh }),
          ...(settled === undefined ? {} : { settled }),
          offloads: whole,
        }),
      );
    } catch (error) {
      observed.failures.push({
        namespace: tenant.namespace,
        error: error instanceof Error ? error : new Error(String(error)),
      });
    }
  });
  await host;
  const byNamespace = (a: { namespace: string }, b: { namespace: string }): number =>
    a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0;
  observed.tenants.sort(byNamespace);
  observed.unwanted.sort(byNamespace);
  return observed;
}
