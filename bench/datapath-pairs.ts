// The client/server container pairs the datapath benchmark sends traffic
// between: baselines built by hand (two namespaces on a plain Linux bridge in a
// third; optionally a linear iptables FORWARD chain there) and ours (two
// containers of one tenant added through the real CNI executable and agent,
// with a policy of N rules on the server's group created through the REST API).
//
// Every namespace is named with the run's prefix and registered with the
// teardown; nothing here touches the root namespace.

import { must } from "../src/lib/process.js";
import { waitFor } from "../src/lib/wait.js";
import { Api } from "../test/harness/api.js";
import { TestAgent } from "../test/harness/agent.js";
import { TestNetns } from "../test/harness/netns.js";
import { Teardown } from "./lab.js";
import { timedPool } from "./stats.js";

export const IPERF_PORT = 5201;
export const CONNECT_PORT = 5202;
/** Filler rules never match the measured flows: their peers are 198.18.128.0/17, the containers live elsewhere. */
export const MAX_FILLER_RULES = 32_768;

const BASELINE_SUBNET = "198.18.110";
const OUR_SUBNET = "198.18.100";

export interface Pair {
  label: string;
  client: TestNetns;
  server: TestNetns;
  serverIp: string;
}

function fillerPeer(i: number): string {
  return `198.18.${128 + (i >> 8)}.${i & 255}`;
}

function fillerPort(i: number): number {
  return 20_000 + (i % 40_000);
}

async function sysctl(ns: string, settings: Record<string, string>): Promise<void> {
  await must(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", ...Object.entries(settings).map(([k, v]) => `${k}=${v}`)]);
}

/** Lets the client open many short connections in a row (its ports, its namespace). */
export async function tuneClient(ns: TestNetns): Promise<void> {
  await sysctl(ns.name, { "net.ipv4.ip_local_port_range": "1024 65535", "net.ipv4.tcp_tw_reuse": "1" });
}

/**
 * Two namespaces joined by a plain Linux bridge in a third. `filler` null: a raw bridge, br_netfilter
 * off. A number: br_netfilter on and a linear FORWARD chain of that many non-matching rules, then the
 * accepts for the measured ports, so every bridged packet walks the whole chain.
 */
export async function bridgePair(prefix: string, tag: string, label: string, filler: number | null, teardown: Teardown): Promise<Pair> {
  const make = async (suffix: string) => {
    const ns = await TestNetns.create(`${prefix}-${tag}-${suffix}`);
    teardown.add(`delete ${ns.name}`, () => ns.destroy());
    return ns;
  };
  const br = await make("br");
  const client = await make("c");
  const server = await make("s");
  await must(["ip", "-n", br.name, "link", "add", "br0", "type", "bridge"]);
  await must(["ip", "-n", br.name, "link", "set", "br0", "up"]);
  for (const [ns, host, port] of [[client, 1, "vc"], [server, 2, "vs"]] as const) {
    await must(["ip", "-n", br.name, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns.name]);
    await must(["ip", "-n", br.name, "link", "set", port, "master", "br0", "up"]);
    await must(["ip", "-n", ns.name, "addr", "add", `${BASELINE_SUBNET}.${host}/24`, "dev", "eth0"]);
    await must(["ip", "-n", ns.name, "link", "set", "eth0", "up"]);
  }
  const hooks = filler === null ? "0" : "1";
  await sysctl(br.name, { "net.bridge.bridge-nf-call-iptables": hooks, "net.bridge.bridge-nf-call-ip6tables": hooks });
  if (filler !== null) {
    const lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"];
    for (let i = 0; i < filler; i++) lines.push(`-A FORWARD -s ${fillerPeer(i)}/32 -p tcp -m tcp --dport ${fillerPort(i)} -j ACCEPT`);
    lines.push(
      `-A FORWARD -p tcp -m tcp --dport ${IPERF_PORT} -j ACCEPT`,
      `-A FORWARD -p udp -m udp --dport ${IPERF_PORT} -j ACCEPT`,
      `-A FORWARD -p tcp -m tcp --dport ${CONNECT_PORT} -j ACCEPT`,
      "COMMIT",
      "",
    );
    await must(["ip", "netns", "exec", br.name, "iptables-restore"], { stdin: lines.join("\n") });
  }
  await tuneClient(client);
  const serverIp = `${BASELINE_SUBNET}.2`;
  if (!(await client.ping(serverIp, 1)) && !(await client.ping(serverIp, 2))) throw new Error(`${label}: client cannot ping ${serverIp}`);
  return { label, client, server, serverIp };
}

/** One tenant per rule count, so each has its own namespace and nft table. */
export interface OurTenant {
  tenant: string;
  label: string;
  filler: number;
}

async function createRules(api: Api, tenant: string, filler: number): Promise<void> {
  const rule = (ruleId: string, fields: Record<string, unknown>) =>
    api.create(`/api/v1/rules/${tenant}:p:${ruleId}/`, { tenantName: tenant, policyName: "p", ruleId, direction: "in", ...fields });
  // A whitelist: tcp and udp denied into the server group except the measured ports.
  await rule("deny-tcp", { protocol: "tcp", action: "deny", priority: 1 });
  await rule("deny-udp", { protocol: "udp", action: "deny", priority: 1 });
  await rule("iperf-tcp", { protocol: "tcp", port: IPERF_PORT, action: "allow", priority: 100 });
  await rule("iperf-udp", { protocol: "udp", port: IPERF_PORT, action: "allow", priority: 100 });
  await rule("connect", { protocol: "tcp", port: CONNECT_PORT, action: "allow", priority: 100 });
  const ids = Array.from({ length: filler }, (_, i) => i);
  await timedPool(ids, 8, async (i) => {
    await rule(`f${i}`, { protocol: "tcp", port: fillerPort(i), fromIpAddress: fillerPeer(i), action: "allow", priority: 50 });
  });
}

/** Tenants, networks, groups and policies at netmaster; done before the agent starts, so it compiles each policy once. */
export async function createOurTenants(api: Api, tenants: OurTenant[]): Promise<void> {
  for (const t of tenants) {
    if (t.filler > MAX_FILLER_RULES) throw new Error(`at most ${MAX_FILLER_RULES} filler rules, not ${t.filler}`);
    await api.create(`/api/v1/tenants/${t.tenant}/`, { tenantName: t.tenant });
    await api.create(`/api/v1/networks/${t.tenant}:net/`, {
      tenantName: t.tenant, networkName: "net", encap: "vxlan", subnet: `${OUR_SUBNET}.0/24`, gateway: `${OUR_SUBNET}.254`,
    });
    await api.create(`/api/v1/policys/${t.tenant}:p/`, { tenantName: t.tenant, policyName: "p" });
    await createRules(api, t.tenant, t.filler);
    await api.create(`/api/v1/endpointGroups/${t.tenant}:client/`, { tenantName: t.tenant, groupName: "client", networkName: "net" });
    await api.create(`/api/v1/endpointGroups/${t.tenant}:server/`, { tenantName: t.tenant, groupName: "server", networkName: "net", policies: ["p"] });
  }
}

/** Number of elements in the tenant's nft table (sets and maps), as the kernel reports it. */
export async function nftElements(namespace: string): Promise<number> {
  const out = await must(["ip", "netns", "exec", namespace, "nft", "-j", "list", "table", "inet", "netplugin"]);
  const doc = JSON.parse(out) as { nftables: Record<string, { elem?: unknown[] }>[] };
  let n = 0;
  for (const item of doc.nftables) for (const v of Object.values(item)) n += Array.isArray(v.elem) ? v.elem.length : 0;
  return n;
}

/** Adds a client and a server container to the tenant through the real CNI executable; checks the policy is in force. */
export async function ourPair(prefix: string, agent: TestAgent, t: OurTenant, teardown: Teardown): Promise<Pair> {
  const namespace = `${agent.prefix}-t-${t.tenant}`;
  const add = async (role: "client" | "server") => {
    const ns = await TestNetns.create(`${prefix}-${t.tenant}-${role[0]}`);
    teardown.add(`delete ${ns.name}`, () => ns.destroy());
    const r = await agent.cni("ADD", { containerId: `${prefix}${t.tenant}${role[0]}`, netns: ns.path }, { tenant: t.tenant, network: "net", group: role });
    if (r.code !== 0) throw new Error(`CNI ADD ${t.tenant}/${role}: ${r.stdout}\n${agent.logs()}`);
    const ip = (r.out as { ips: { address: string }[] }).ips[0]!.address.split("/")[0]!;
    return { ns, ip };
  };
  const client = await add("client");
  const server = await add("server");
  await tuneClient(client.ns);
  const pair = { label: t.label, client: client.ns, server: server.ns, serverIp: server.ip };
  await waitFor(() => client.ns.ping(server.ip, 1), { timeoutMs: 10_000, what: () => `${t.label}: client cannot ping ${server.ip}` });
  // Applied means in the kernel: every filler rule adds at least one element to the tenant's maps.
  let elements = 0;
  await waitFor(async () => (elements = await nftElements(namespace).catch(() => 0)) >= t.filler, { timeoutMs: 60_000, what: () => `${t.label}: ${elements} nft elements, want at least ${t.filler}` });
  // The whitelist must be in force: tcp to a port it does not allow is dropped, not refused.
  const probe = await client.ns.tcpReaches(server.ip, 9, 600);
  if (probe !== "timeout") throw new Error(`${t.label}: tcp to a port the policy denies gave "${probe}", expected a drop`);
  return pair;
}

export type Layer = "no-policy" | "conntrack-only" | "br_netfilter-only" | "raw";

async function nftTables(namespace: string): Promise<string[]> {
  const out = await must(["ip", "netns", "exec", namespace, "nft", "list", "tables"]);
  return out.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("table ")).sort();
}

/**
 * Strips one tenant namespace (agent stopped) down, to see what each layer of our datapath costs:
 * no-policy: our policy table (`inet netplugin`) deleted, any other table of ours (uplink NAT) kept;
 * conntrack-only: every table deleted, then one `ct state established,related accept` rule in forward;
 * br_netfilter-only: no nft table at all (bridged packets still go through the IP hooks);
 * raw: no table and bridge-nf-call-ip(6)tables=0, so only our links and bridge remain.
 */
export async function stripTenant(namespace: string, layer: Layer): Promise<void> {
  const before = await nftTables(namespace);
  const drop = layer === "no-policy" ? before.filter((t) => t === "table inet netplugin") : before;
  let script = drop.map((t) => `delete ${t}\n`).join("");
  if (layer === "conntrack-only") {
    script += "table inet nbench {\n\tchain forward {\n\t\ttype filter hook forward priority 0; policy accept;\n\t\tct state established,related accept\n\t}\n}\n";
  }
  if (script !== "") await must(["ip", "netns", "exec", namespace, "nft", "-f", "-"], { stdin: script });
  if (layer === "raw") await sysctl(namespace, { "net.bridge.bridge-nf-call-iptables": "0", "net.bridge.bridge-nf-call-ip6tables": "0" });
  const left = await nftTables(namespace);
  const want = layer === "no-policy" ? before.filter((t) => !drop.includes(t)) : layer === "conntrack-only" ? ["table inet nbench"] : [];
  if (left.join(",") !== want.join(",")) throw new Error(`${namespace} stripped to ${layer}: tables [${left.join(", ")}], want [${want.join(", ")}]`);
}

/** The nft tables in a namespace, for the report. */
export async function tableList(namespace: string): Promise<string> {
  return (await nftTables(namespace)).map((t) => t.replace(/^table /, "")).join(", ") || "none";
}

/** Shapers on the tenant's links: none are expected without a profile. */
export async function qdiscs(namespace: string): Promise<string[]> {
  const out = await must(["tc", "-n", namespace, "qdisc", "show"]);
  return out.split("\n").filter((l) => /\b(tbf|htb|ingress|clsact)\b/.test(l));
}
