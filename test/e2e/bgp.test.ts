// Routed mode to the physical network, with real daemons: a two-host cluster (fwdMode routing, one real
// agent per host, each running gobgpd for its Bgp object) and a top-of-rack router, FRR (zebra + bgpd)
// in a namespace on the cluster's underlay bridge. A `vlan` network with an IPv6 subnet is routed, not
// bridged across hosts: each agent announces its containers' /32s and /128s to the router (IPv6 unicast
// over the same IPv4 session, with the host's IPv6 underlay address as next hop), installs what it
// learns, and containers on the two hosts reach each other through the router with their own addresses.
//
//   <prefix>-h1 198.18.0.11 fd00:198:18::11 AS 65001 (gobgpd) ─┐
//   <prefix>-h2 198.18.0.12 fd00:198:18::12 AS 65002 (gobgpd) ─┼─ ul0 in <prefix>-ul (netmaster .1)
//   <prefix>-tor 198.18.0.200 fd00:198:18::200 AS 65000 (FRR) ─┘
//
// Everything lives in namespaces named after the cluster's prefix and is removed in after(), also on
// failure; the only processes stopped there are the ones this run started (by their pid files).

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";

import { FrrRouter } from "../../src/agent/bgp/index.js";
import { Cluster, type ClusterHost } from "../../src/cluster/index.js";
import { hostPrefix, tenantNamespace } from "../../src/datapath/names.js";
import { must, run } from "../../src/lib/process.js";
import { waitFor } from "../../src/lib/wait.js";
import { Api } from "../harness/api.js";
import { attach } from "../harness/cluster.js";
import { networkLink } from "../harness/datapath.js";
import { TestNetns } from "../harness/netns.js";

const NETPROBE = fileURLToPath(new URL("../../src/datapath/linux/netprobe.js", import.meta.url));
const GOBGPD = "/usr/bin/gobgpd";
const TOR_IP = "198.18.0.200";
const TOR_IP6 = "fd00:198:18::200";
const TOR_AS = 65000;
const hostAs = (h: ClusterHost): number => 65000 + h.index;
const NET = { tenant: "default", network: "rt" };
const SUBNET = "198.18.130.0/24";
const SUBNET6 = "fd00:130::/64";

function missing(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (network namespaces)";
  for (const tool of [GOBGPD, "/usr/bin/gobgp", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "/usr/bin/vtysh"]) {
    if (!existsSync(tool)) return `${tool} is not installed (apt-get install gobgpd frr)`;
  }
  return undefined;
}

interface BgpOper {
  neighborStatus: string;
  adminStatus: string;
  numRoutes: number;
  routes: string[];
}

/** gobgpd of a host, from the pid file its agent's speaker keeps (undefined: none). */
function gobgpdPid(h: ClusterHost): number | undefined {
  try {
    const pid = Number(readFileSync(join(h.stateDir, "bgp", "gobgpd.pid"), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

/** The host's kernel routes learned over BGP: "prefix via gateway". */
async function bgpRoutes(h: ClusterHost, family: "-4" | "-6" = "-4"): Promise<string[]> {
  const out = await must(["ip", "-n", h.namespace, "-json", family, "route", "show", "proto", "bgp"]);
  return (JSON.parse(out || "[]") as { dst: string; gateway?: string }[]).map((r) => `${r.dst} via ${r.gateway ?? "?"}`).sort();
}

describe("routed mode: two hosts announce their containers to an FRR top-of-rack router", { skip: missing(), timeout: 300_000 }, () => {
  let cluster: Cluster | undefined;
  let api: Api;
  let tor = "";
  let frrDir = "";
  let router: FrrRouter | undefined;
  const made: TestNetns[] = [];
  const servers: ChildProcess[] = [];
  let h1: ClusterHost;
  let h2: ClusterHost;
  let a: { ns: TestNetns; ip: string; ip6: string };
  let b: { ns: TestNetns; ip: string; ip6: string };

  const container = (host: number, name: string) => attach(cluster!, made, host, name, NET);

  const bgpObject = (h: ClusterHost) => ({
    hostname: h.name,
    routerip: `${h.address}/24`,
    as: String(hostAs(h)),
    neighbor: TOR_IP,
    "neighbor-as": String(TOR_AS),
  });

  /** Packets from the routed subnet the router forwarded (an nft counter of the test's own in the router's namespace). */
  async function torForwarded(family: "ip" | "ip6" = "ip"): Promise<number> {
    const out = await must(["ip", "netns", "exec", tor, "nft", "-j", "list", "counter", family, "nptor", "routed"]);
    const entries = (JSON.parse(out) as { nftables: { counter?: { packets: number } }[] }).nftables;
    return entries.find((e) => e.counter !== undefined)?.counter?.packets ?? -1;
  }

  before(async () => {
    cluster = await Cluster.up({ hosts: 2, fwdMode: "routing", logLevel: "warn" });
    api = new Api(cluster.apiBase);
    [h1, h2] = [cluster.hosts[0]!, cluster.hosts[1]!];

    // The router: a namespace on the underlay bridge, attached as Cluster.addOutside() attaches "outside".
    tor = `${cluster.prefix}-tor`;
    await must(["ip", "netns", "add", tor]);
    await must(["ip", "-n", tor, "link", "set", "lo", "up"]);
    await must(["ip", "-n", cluster.underlay, "link", "add", "tor", "type", "veth", "peer", "name", "eth0", "netns", tor]);
    await must(["ip", "-n", cluster.underlay, "link", "set", "tor", "master", "ul0", "up"]);
    await must(["ip", "-n", tor, "addr", "add", `${TOR_IP}/24`, "dev", "eth0"]);
    // Before bgpd starts: FRR takes the IPv6 next hop it announces from the interface when a session comes up.
    await must(["ip", "-n", tor, "addr", "add", `${TOR_IP6}/64`, "dev", "eth0", "nodad"]);
    await must(["ip", "-n", tor, "link", "set", "eth0", "up"]);
    // Hosts share the router's segment: it must not tell them to go round it (ICMP redirects).
    await must(["ip", "netns", "exec", tor, "sysctl", "-qw", "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.eth0.send_redirects=0"]);
    await must(["ip", "netns", "exec", tor, "nft", "-f", "-"], {
      stdin: `table ip nptor {\n  counter routed {\n  }\n  chain forward {\n    type filter hook forward priority 0;\n    ip saddr ${SUBNET} counter name "routed"\n  }\n}\n`,
    });
    await must(["ip", "netns", "exec", tor, "nft", "-f", "-"], {
      stdin: `table ip6 nptor {\n  counter routed {\n  }\n  chain forward {\n    type filter hook forward priority 0;\n    ip6 saddr ${SUBNET6} counter name "routed"\n  }\n}\n`,
    });
    frrDir = await mkdtemp(join(tmpdir(), `${cluster.prefix}-frr-`));
    await chmod(frrDir, 0o755); // FRR drops to the frr user and must reach its state dir
    router = await FrrRouter.start({
      run: must,
      netns: tor,
      stateDir: join(frrDir, "tor"),
      name: `${cluster.prefix}tor`,
      routerId: TOR_IP,
      as: TOR_AS,
      neighbors: cluster.hosts.map((h) => ({ address: h.address, as: hostAs(h) })),
      connectRetrySec: 1,
    });
    // A ToR is the next hop for what it passes on. Without this, FRR passes each host's own address on to
    // the other (third-party next hop: they share a segment) and the hosts would talk directly.
    await must([
      "vtysh", "--vty_socket", join(frrDir, "tor", "vty"), "-d", "bgpd",
      "-c", "configure terminal", "-c", `router bgp ${TOR_AS}`,
      ...["ipv4", "ipv6"].flatMap((family) => [
        "-c", `address-family ${family} unicast`,
        ...cluster!.hosts.flatMap((h) => ["-c", `neighbor ${h.address} next-hop-self`]),
        "-c", "exit-address-family",
      ]),
    ]);

    await api.create(`/api/v1/networks/${NET.tenant}:${NET.network}/`, {
      tenantName: NET.tenant, networkName: NET.network, encap: "vlan", subnet: SUBNET, gateway: "198.18.130.254",
      ipv6Subnet: SUBNET6, ipv6Gateway: "fd00:130::fe",
    });
    for (const h of cluster.hosts) await api.create(`/api/v1/Bgps/${h.name}/`, bgpObject(h));
    a = await container(1, "a");
    b = await container(2, "b");
    for (const [c, tag] of [[a, "a"], [b, "b"]] as const) await c.ns.serve(tag, 80);
  });

  after(async () => {
    for (const s of servers.splice(0)) s.kill("SIGKILL");
    for (const ns of made.splice(0)) await ns.destroy();
    if (cluster !== undefined) {
      // Deleting the Bgp objects makes the agents stop their gobgpd; then stop the agents, and whatever
      // gobgpd is still left goes by its pid file (start-stop-daemon checks it is gobgpd), before
      // down() removes the state dirs holding those pid files.
      for (const h of cluster.hosts) await api.del(`/api/v1/Bgps/${h.name}/`).catch(() => undefined);
      await waitFor(async () => cluster!.hosts.every((h) => gobgpdPid(h) === undefined), { timeoutMs: 10_000, what: () => "" }).catch(() => undefined);
      for (const h of cluster.hosts) await h.agent?.stop();
      for (const h of cluster.hosts) {
        await run(["start-stop-daemon", "--stop", "--pidfile", join(h.stateDir, "bgp", "gobgpd.pid"), "--exec", GOBGPD, "--retry", "TERM/5/KILL/2", "--oknodo"]);
      }
    }
    await router?.stop().catch(() => undefined);
    if (tor !== "") await run(["ip", "netns", "del", tor]);
    await cluster?.down();
    if (frrDir !== "") await rm(frrDir, { recursive: true, force: true });
  });

  test("the router learns each host's container /32 with that host as next hop", async () => {
    let seen: [string, string[]][] = [];
    await waitFor(async () => {
      const routes = await router!.routes("ipv4");
      seen = [...routes];
      return routes.get(`${a.ip}/32`)?.includes(h1.address) === true && routes.get(`${b.ip}/32`)?.includes(h2.address) === true;
    }, { timeoutMs: 60_000, what: () => `the router's routes: ${JSON.stringify(seen)}` });
    const sessions = await router!.sessions();
    assert.equal(sessions.get(h1.address), "Established");
    assert.equal(sessions.get(h2.address), "Established");
    // zebra puts them into the router's kernel (a moment after its RIB has them): it forwards to the hosts.
    const installed = new RegExp(`via ${h1.address.replaceAll(".", "\\.")} .*proto bgp`);
    let kernel = "";
    await waitFor(async () => installed.test((kernel = await must(["ip", "-n", tor, "route", "show", a.ip]))), { timeoutMs: 10_000, what: () => `the router's kernel: ${kernel}` });
  });

  test("each host's kernel has the other's container via the router, learned over BGP; its own via the tenant uplink", async () => {
    await waitFor(async () => (await bgpRoutes(h1)).includes(`${b.ip} via ${TOR_IP}`), { timeoutMs: 30_000, what: () => "h1 has no BGP route to b" });
    await waitFor(async () => (await bgpRoutes(h2)).includes(`${a.ip} via ${TOR_IP}`), { timeoutMs: 30_000, what: () => "h2 has no BGP route to a" });
    assert.ok(!(await bgpRoutes(h1)).some((r) => r.startsWith(`${a.ip} `)), "a host never installs its own prefix");
    assert.match(await must(["ip", "-n", h1.namespace, "route", "show", a.ip]), /^\S+ via 169\.254\.\d+\.\d+ dev \S+/);
    // The tenant namespace: no VXLAN device for a routed network, no subnet route, a host route per container.
    const ns = tenantNamespace(hostPrefix(h1.name), NET.tenant);
    assert.equal((await must(["ip", "-n", ns, "-json", "link", "show", "type", "vxlan"])).trim(), "[]");
    const routes = await must(["ip", "-n", ns, "route", "show"]);
    assert.ok(!routes.includes(SUBNET), routes);
    assert.match(routes, new RegExp(`^${a.ip.replaceAll(".", "\\.")} dev ${networkLink(h1, NET.network)} `, "m"));
  });

  test("containers on the two hosts reach each other both ways, through the router, with their own addresses", async () => {
    await waitFor(async () => a.ns.ping(b.ip, 1), { timeoutMs: 20_000, what: () => "a cannot reach b" });
    const before_ = await torForwarded();
    assert.ok(await a.ns.ping(b.ip, 5), "a -> b");
    assert.ok(await b.ns.ping(a.ip, 5), "b -> a");
    assert.ok((await torForwarded()) - before_ >= 20, "every echo request and reply crossed the router");
    assert.equal(await a.ns.tcpReaches(b.ip, 80), "b");
    assert.equal(await b.ns.tcpReaches(a.ip, 80), "a");
    // No NAT anywhere on the way: b sees a's own address (routed addresses are announced as they are).
    const server = spawn("ip", ["netns", "exec", b.ns.name, process.execPath, NETPROBE, "serve-peer", "8081"], { stdio: ["ignore", "pipe", "ignore"] });
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.stdout!.once("data", () => resolve());
      server.once("exit", (code) => reject(new Error(`serve-peer exited ${code}`)));
    });
    assert.equal(await a.ns.tcpReaches(b.ip, 8081), a.ip);
  });

  test("IPv6: the router learns each host's container /128 with that host's IPv6 address as next hop", async () => {
    assert.ok(a.ip6 !== "" && b.ip6 !== "", "the containers have IPv6 addresses");
    let seen: [string, string[]][] = [];
    await waitFor(async () => {
      const routes = await router!.routes("ipv6");
      seen = [...routes];
      return routes.get(`${a.ip6}/128`)?.includes(h1.address6) === true && routes.get(`${b.ip6}/128`)?.includes(h2.address6) === true;
    }, { timeoutMs: 60_000, what: () => `the router's IPv6 routes: ${JSON.stringify(seen)}` });
    const installed = new RegExp(`via ${h1.address6} .*proto bgp`);
    let kernel = "";
    await waitFor(async () => installed.test((kernel = await must(["ip", "-n", tor, "-6", "route", "show", a.ip6]))), { timeoutMs: 10_000, what: () => `the router's kernel: ${kernel}` });
  });

  test("IPv6: each host installs the other's /128 via the router; its own goes to the tenant uplink", async () => {
    await waitFor(async () => (await bgpRoutes(h1, "-6")).includes(`${b.ip6} via ${TOR_IP6}`), { timeoutMs: 30_000, what: () => "h1 has no IPv6 BGP route to b" });
    await waitFor(async () => (await bgpRoutes(h2, "-6")).includes(`${a.ip6} via ${TOR_IP6}`), { timeoutMs: 30_000, what: () => "h2 has no IPv6 BGP route to a" });
    assert.ok(!(await bgpRoutes(h1, "-6")).some((r) => r.startsWith(`${a.ip6} `)), "a host never installs its own prefix");
    assert.match(await must(["ip", "-n", h1.namespace, "-6", "route", "show", a.ip6]), /via fe80::2 dev \S+/);
    const ns = tenantNamespace(hostPrefix(h1.name), NET.tenant);
    const routes = await must(["ip", "-n", ns, "-6", "route", "show"]);
    assert.ok(!routes.includes(SUBNET6), routes);
    assert.match(routes, /^default via fe80::1 dev nuplink /m);
  });

  test("IPv6: containers on the two hosts reach each other both ways, through the router", async () => {
    await waitFor(async () => a.ns.ping(b.ip6, 1), { timeoutMs: 20_000, what: () => "a cannot reach b over IPv6" });
    const before_ = await torForwarded("ip6");
    assert.ok(await a.ns.ping(b.ip6, 5), "a -> b");
    assert.ok(await b.ns.ping(a.ip6, 5), "b -> a");
    assert.ok((await torForwarded("ip6")) - before_ >= 20, "every echo request and reply crossed the router");
    assert.equal(await a.ns.tcpReaches(b.ip6, 80), "b");
    assert.equal(await b.ns.tcpReaches(a.ip6, 80), "a");
  });

  test("bgp inspect (REST and netctl) shows the established session and the learned route", async () => {
    let oper: BgpOper | undefined;
    await waitFor(async () => {
      const r = await api.get<{ Oper: BgpOper }>(`/api/v1/inspect/Bgps/${h1.name}/`);
      oper = r.body.Oper;
      return (
        r.status === 200 &&
        oper.neighborStatus === "established" &&
        oper.routes.includes(`${b.ip}/32 via ${TOR_IP}`) &&
        oper.routes.includes(`${b.ip6}/128 via ${TOR_IP6}`)
      );
    }, { timeoutMs: 20_000, what: () => `inspect: ${JSON.stringify(oper)}` });
    assert.equal(oper!.adminStatus, "up");
    assert.equal(oper!.numRoutes, oper!.routes.length);
    const out = await must(["nsenter", `--net=/var/run/netns/${cluster!.underlay}`, ...cluster!.netctl, "bgp", "inspect", h2.name]);
    const inspected = JSON.parse(out) as { Config: { hostname: string }; Oper: BgpOper };
    assert.equal(inspected.Config.hostname, h2.name);
    assert.equal(inspected.Oper.neighborStatus, "established");
    assert.ok(inspected.Oper.routes.includes(`${a.ip}/32 via ${TOR_IP}`), JSON.stringify(inspected.Oper));
    assert.ok(inspected.Oper.routes.includes(`${a.ip6}/128 via ${TOR_IP6}`), JSON.stringify(inspected.Oper));
  });

  test("a restarted agent adopts its gobgpd and its routes: traffic goes on", async () => {
    const pid = gobgpdPid(h1);
    const routes = await bgpRoutes(h1);
    const routes6 = await bgpRoutes(h1, "-6");
    await h1.agent!.kill();
    await cluster!.startAgent(h1);
    assert.equal(gobgpdPid(h1), pid, "the same gobgpd");
    assert.ok(await a.ns.ping(b.ip, 2));
    assert.ok(await a.ns.ping(b.ip6, 2));
    assert.deepEqual(await bgpRoutes(h1), routes);
    assert.deepEqual(await bgpRoutes(h1, "-6"), routes6);
    assert.equal((await router!.sessions()).get(h1.address), "Established");
  });

  test("a container that goes is withdrawn from the router and from the other host", async () => {
    const c = await container(2, "c");
    await waitFor(async () => (await bgpRoutes(h1)).includes(`${c.ip} via ${TOR_IP}`), { timeoutMs: 30_000, what: () => "h1 never learned c" });
    await waitFor(async () => (await bgpRoutes(h1, "-6")).includes(`${c.ip6} via ${TOR_IP6}`), { timeoutMs: 30_000, what: () => "h1 never learned c's /128" });
    assert.ok(await a.ns.ping(c.ip, 1));
    await waitFor(async () => a.ns.ping(c.ip6, 1), { timeoutMs: 10_000, what: () => "a cannot reach c over IPv6" });
    made.splice(made.indexOf(c.ns), 1);
    assert.equal((await cluster!.removeContainer(2, "c", NET)).code, 0);
    await waitFor(async () => !(await router!.routes("ipv4")).has(`${c.ip}/32`), { timeoutMs: 20_000, what: () => "the router still has c" });
    await waitFor(async () => !(await bgpRoutes(h1)).some((r) => r.startsWith(`${c.ip} `)), { timeoutMs: 20_000, what: () => "h1 still routes to c" });
    await waitFor(async () => !(await router!.routes("ipv6")).has(`${c.ip6}/128`), { timeoutMs: 20_000, what: () => "the router still has c's /128" });
    await waitFor(async () => !(await bgpRoutes(h1, "-6")).some((r) => r.startsWith(`${c.ip6} `)), { timeoutMs: 20_000, what: () => "h1 still routes to c over IPv6" });
    assert.equal((await must(["ip", "-n", h2.namespace, "-6", "route", "show", c.ip6])).trim(), "", "h2 forgot its IPv6 route to c");
    assert.equal((await must(["ip", "-n", h2.namespace, "route", "show", c.ip])).trim(), "", "h2 forgot its route to c");
    assert.ok((await router!.routes("ipv4")).has(`${b.ip}/32`), "b stays announced");
    assert.ok((await router!.routes("ipv6")).has(`${b.ip6}/128`), "b's /128 stays announced");
  });

  test("deleting a host's Bgp object stops its speaker; its routes go from the router and from the other host", async () => {
    const pid = gobgpdPid(h2);
    assert.ok(pid !== undefined && alive(pid), "h2 runs gobgpd");
    assert.equal((await api.del(`/api/v1/Bgps/${h2.name}/`)).status, 200);
    await waitFor(async () => !alive(pid!), { timeoutMs: 20_000, what: () => "h2's gobgpd still runs" });
    await waitFor(async () => (await bgpRoutes(h2)).length === 0, { timeoutMs: 10_000, what: () => "h2 kept its BGP routes" });
    await waitFor(async () => (await router!.sessions()).get(h2.address) !== "Established", { timeoutMs: 20_000, what: () => "the router still has a session with h2" });
    await waitFor(async () => !(await router!.routes("ipv4")).has(`${b.ip}/32`), { timeoutMs: 20_000, what: () => "the router still has b" });
    await waitFor(async () => !(await bgpRoutes(h1)).some((r) => r.startsWith(`${b.ip} `)), { timeoutMs: 20_000, what: () => "h1 still routes to b" });
    assert.equal((await api.get(`/api/v1/inspect/Bgps/${h2.name}/`)).status, 404);
    // h1 keeps its session.
    assert.equal((await router!.sessions()).get(h1.address), "Established");
    assert.ok(gobgpdPid(h1) !== undefined);
  });
});
