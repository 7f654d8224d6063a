// Container to container on two different hosts: our VXLAN overlay (a
// two-host Cluster, containers added through CNI, a policy on the server's
// group) against two plain namespaces joined by a plain VXLAN device over the
// same kind of underlay, built by hand in the same shape: an underlay bridge
// namespace; per host a namespace with eth0 on the underlay, whose VXLAN device
// (same VNI, static FDB towards the other host) is moved onto a bridge in a
// "tenant" namespace, with a veth into a "container" namespace. MTUs as ours
// (underlay 1500, overlay 1450). Optionally also the plain shape with
// br_netfilter and a one-rule stateful nft table (conntrack), to split our cost.
//
// Measured interleaved (rep by rep, setup by setup, every other rep backwards),
// median per setup, printed as ratios to the plain VXLAN pair of the same run.
// The agents are stopped (SIGTERM leaves the kernel as it is) once everything
// is applied, so their periodic resync does not land in our runs only.

import { Cluster } from "../src/cluster/index.js";
import { hostPrefix, NFT_TABLE, tenantNamespace } from "../src/datapath/names.js";
import { must } from "../src/lib/process.js";
import { waitFor } from "../src/lib/wait.js";
import { Background, iperfRate, printTable, Teardown, timedSpawn, vxlanPair } from "./lab.js";
import { fmt, median } from "./stats.js";

const IPERF_PORT = 5201;

export interface ThroughputOptions {
  prefix: string;
  seconds: number;
  reps: number;
  /** CPU every sender and receiver is pinned to ("" = not pinned). */
  cpu: string;
  breakdown: boolean;
  verbose: boolean;
}

interface Setup {
  label: string;
  /** layer: a step of the breakdown between plain and ours. */
  kind: "plain" | "layer" | "ours";
  client: string;
  server: string;
  serverIp: string;
  tcp: number[];
  udp: number[];
}

const ns = (name: string) => ["ip", "netns", "exec", name];

function iperf(s: Setup, udp: boolean, o: ThroughputOptions): Promise<number> {
  return iperfRate({ client: s.client, serverIp: s.serverIp, port: IPERF_PORT, seconds: o.seconds, udp, cpu: o.cpu, label: s.label });
}

/**
 * The plain shape by hand, all in 198.19.0.0/16 (inside 198.18.0.0/15). `conntrack`: br_netfilter on in the
 * tenant namespaces and a stateful nft forward chain there (established accepted, new accepted), as a stand-in
 * for the hooks our policy table needs, without our rules.
 */
async function plainPair(prefix: string, label: string, conntrack: "none" | "tenant" | "tenant+host", teardown: Teardown): Promise<Setup> {
  const { ns: names, client, server, serverIp } = await vxlanPair(prefix, teardown);
  for (const i of [1, 2]) {
    const [host, tenant] = [names[`h${i}`]!, names[`t${i}`]!];
    if (conntrack === "none") continue;
    // br_netfilter and a stateful forward chain in the tenant namespace: the hooks our policy table needs.
    await timedSpawn([...ns(tenant), "sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1", "net.bridge.bridge-nf-call-ip6tables=1"]);
    await must([...ns(tenant), "nft", "-f", "-"], { stdin: statefulTable("forward") });
    // Ours has a NAT table in the host's namespace (outbound traffic of the tenants): conntrack sees the underlay's UDP there.
    if (conntrack === "tenant+host") await must([...ns(host), "nft", "-f", "-"], { stdin: statefulTable("input") + statefulTable("output").replace("table inet bench", "table inet bench2") });
  }
  const ping = await timedSpawn([...ns(client), "ping", "-c", "3", "-i", "0.2", "-W", "2", "-q", serverIp]);
  if (ping.code !== 0) throw new Error(`${label}: the two containers do not reach each other: ${ping.stdout}`);
  return { label, kind: conntrack === "none" ? "plain" : "layer", client, server, serverIp, tcp: [], udp: [] };
}

/** A stateful nft chain on one hook that accepts everything: conntrack on, no rules of ours. */
function statefulTable(hook: "forward" | "input" | "output"): string {
  return `table inet bench {\n  chain ${hook} {\n    type filter hook ${hook} priority filter; policy accept;\n    ct state established,related accept\n    ct state new accept\n  }\n}\n`;
}

async function apiOk(cluster: Cluster, method: string, path: string, body?: unknown): Promise<void> {
  const r = await cluster.api(method, path, body);
  if (r.status !== 200) throw new Error(`${method} ${path} -> ${r.status}: ${r.text}`);
}

/** open: no policy on the path; none: the server's group has a policy; policy/all: that, with tables removed. */
type Strip = "open" | "none" | "policy" | "all";

/**
 * Ours: a two-host cluster; per tenant a client container on h1 and a server on h2. The server's group has a
 * policy (other tcp/udp denied, the iperf3 port allowed), except in the `open` tenant, where neither container
 * is in a group with rules (so neither bridge passes netfilter). With the agents stopped, the breakdown tenants
 * lose tables their agents made in their tenant namespaces: the policy table, or every table (policy and the
 * uplink's NAT).
 */
async function ourPairs(prefix: string, strips: Strip[], teardown: Teardown, details: string[]): Promise<Setup[]> {
  const started = performance.now();
  const cluster = await Cluster.up({ hosts: 2, prefix, logLevel: "warn" });
  teardown.add("tear the two-host cluster down", () => cluster.down());
  details.push(`two-host cluster up in ${fmt((performance.now() - started) / 1000)} s`);
  const pairs: { strip: Strip; tenant: string; client: { namespace: string; ip: string }; server: { namespace: string; ip: string } }[] = [];
  for (const strip of strips) {
    const t = `t${strip}`;
    await apiOk(cluster, "POST", `/api/v1/tenants/${t}/`, { tenantName: t });
    await apiOk(cluster, "POST", `/api/v1/networks/${t}:net/`, { tenantName: t, networkName: "net", encap: "vxlan", subnet: "198.18.100.0/24", gateway: "198.18.100.254" });
    await apiOk(cluster, "POST", `/api/v1/policys/${t}:iperf/`, { tenantName: t, policyName: "iperf" });
    const rules = [
      { ruleId: "1", protocol: "tcp", action: "deny", priority: 1 },
      { ruleId: "2", protocol: "udp", action: "deny", priority: 1 },
      { ruleId: "3", protocol: "tcp", port: IPERF_PORT, action: "allow", priority: 100 },
      { ruleId: "4", protocol: "udp", port: IPERF_PORT, action: "allow", priority: 100 },
    ];
    for (const r of rules) await apiOk(cluster, "POST", `/api/v1/rules/${t}:iperf:${r.ruleId}/`, { tenantName: t, policyName: "iperf", direction: "in", ...r });
    await apiOk(cluster, "POST", `/api/v1/endpointGroups/${t}:srv/`, { tenantName: t, groupName: "srv", networkName: "net", policies: ["iperf"] });
    const add = async (host: number, name: string, config: Record<string, unknown>) => {
      const c = await cluster.addContainer(host, name, config);
      if (c.result.code !== 0) throw new Error(`ADD ${name}: ${JSON.stringify(c.result.out)}`);
      const ips = (c.result.out as { ips: { address: string }[] }).ips;
      return { namespace: c.namespace, ip: ips.find((i) => !i.address.includes(":"))!.address.split("/")[0]! };
    };
    const client = await add(1, `cli${strip}`, { tenant: t, network: "net" });
    const server = await add(2, `srv${strip}`, { tenant: t, network: "net", ...(strip === "open" ? {} : { group: "srv" }) });
    pairs.push({ strip, tenant: t, client, server });
  }
  for (const p of pairs) {
    await waitFor(async () => (await timedSpawn([...ns(p.client.namespace), "ping", "-c", "1", "-W", "1", "-q", p.server.ip])).code === 0, {
      timeoutMs: 20_000,
      what: () => `tenant ${p.tenant}: our client container never reached the server on the other host`,
    });
  }
  await Promise.all(cluster.hosts.map((h) => h.agent?.stop()));
  const labels: Record<Strip, string> = {
    open: "netplugin overlay, no policy on the path",
    none: "netplugin overlay, policy on the server",
    policy: "  ours without the policy table",
    all: "  ours without any tenant-ns table",
  };
  for (const p of pairs) {
    const left: string[] = [];
    for (const h of cluster.hosts) {
      const tenantNs = tenantNamespace(hostPrefix(h.name), p.tenant);
      if (p.strip === "policy" || p.strip === "all") await must([...ns(tenantNs), "nft", ...(p.strip === "all" ? ["flush", "ruleset"] : ["delete", "table", "inet", NFT_TABLE])]);
      const tables = (await must([...ns(tenantNs), "nft", "list", "tables"])).trim().split("\n").filter(Boolean).map((t) => t.replace(/^table /, ""));
      left.push(`h${h.index} [${tables.join(", ")}]`);
    }
    details.push(`${labels[p.strip].trim()}: nft tables in the tenant namespaces: ${left.join(" ")}`);
  }
  return pairs.map((p) => ({ label: labels[p.strip], kind: p.strip === "policy" || p.strip === "all" ? "layer" : "ours", client: p.client.namespace, server: p.server.namespace, serverIp: p.server.ip, tcp: [], udp: [] }));
}

export async function benchThroughput(o: ThroughputOptions, teardown: Teardown): Promise<void> {
  const details: string[] = [];
  const setups: Setup[] = [];
  // Ours first: its agents load br_netfilter, which the conntrack variant of the plain shape needs.
  const ourSetups = await ourPairs(`${o.prefix}k`, o.breakdown ? ["open", "none", "policy", "all"] : ["open", "none"], teardown, details);
  setups.push(await plainPair(`${o.prefix}p`, "plain VXLAN (no netfilter)", "none", teardown));
  if (o.breakdown) {
    setups.push(await plainPair(`${o.prefix}q`, "  + br_netfilter, conntrack in tenant ns", "tenant", teardown));
    setups.push(await plainPair(`${o.prefix}r`, "  + conntrack in host ns (underlay)", "tenant+host", teardown));
  }
  setups.push(...ourSetups);

  const servers = new Background();
  teardown.add("stop iperf3 servers", () => servers.stopAll());
  for (const s of setups) await servers.start([...ns(s.server), "iperf3", "-s", "--forceflush", "-p", String(IPERF_PORT)], "Server listening");
  for (const metric of ["tcp", "udp"] as const) {
    for (let rep = 0; rep < o.reps; rep++) {
      for (const s of rep % 2 === 0 ? setups : [...setups].reverse()) {
        const v = await iperf(s, metric === "udp", o);
        s[metric].push(v);
        if (o.verbose) console.log(`  ${metric} rep ${rep + 1} ${s.label}: ${fmt(v, 2)}`);
      }
    }
  }
  await servers.stopAll();

  const plain = setups.find((s) => s.kind === "plain")!;
  const base = { tcp: median(plain.tcp), udp: median(plain.udp) };
  console.log(`\ncluster throughput: container to container on two hosts over VXLAN, median of ${o.reps} runs per setup, setups interleaved`);
  console.log(`TCP: iperf3 ${o.seconds} s, one stream; UDP: iperf3 -u -l 64 -b 0 ${o.seconds} s, thousand 64-byte packets received per second`);
  console.log(o.cpu === "" ? "senders and receivers not pinned" : `sender, receiver and the path between them all on CPU ${o.cpu} (rate = inverse of the path's CPU cost)`);
  console.log("x plain = value / plain VXLAN pair of the same run (target: >= 0.95); our agents stopped after setup\n");
  printTable(
    ["setup", "TCP Gbit/s", "x plain", "UDP kpps", "x plain", "TCP runs", "UDP runs"],
    setups.map((s) => [
      s.label,
      fmt(median(s.tcp), 2),
      fmt(median(s.tcp) / base.tcp, 3),
      fmt(median(s.udp), 0),
      fmt(median(s.udp) / base.udp, 3),
      s.tcp.map((v) => fmt(v, 2)).join(" "),
      s.udp.map((v) => fmt(v, 0)).join(" "),
    ]),
  );
  const verdict = (r: number) => (r >= 0.95 ? "within 5%" : `${fmt((1 - r) * 100, 1)}% below`);
  console.log("");
  for (const ours of setups.filter((s) => s.kind === "ours")) {
    const ratio = { tcp: median(ours.tcp) / base.tcp, udp: median(ours.udp) / base.udp };
    console.log(`${ours.label.trim()} vs plain VXLAN: TCP ${verdict(ratio.tcp)}, 64-byte UDP ${verdict(ratio.udp)}`);
  }
  for (const d of details) console.log(d);
}
