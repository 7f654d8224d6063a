// Service load balancers and DNS interception against the real kernel, with real traffic: two simulated hosts
// (each a network namespace standing in for the agent's, joined by an underlay namespace with a bridge) run one
// bridge-mode tenant with two VXLAN networks. Host 1 holds providers p1 and p2, a client c, a container x that
// serves the same port but provides nothing, and a client r on the other network; host 2 holds provider p3.
// Everything carries the per-run prefix "npt<4 hex>" and is removed in after(), also on failure. Needs root;
// skipped otherwise.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";

import type { PolicyInput } from "../../policy/index.js";
import { bridgeName, endpointLinkName, tenantNamespace, vxlanName } from "../names.js";
import type { DesiredEndpoint, DesiredHost, DesiredNetwork, DesiredService, DesiredServiceProvider } from "../types.js";
import { LinuxDatapath } from "./driver.js";
import { parseLinks } from "./parse.js";
import { run } from "../../lib/process.js";
import { exec, killChildren, ping, removeNamespaces, spawnIn } from "./testing/netns.js";

const isRoot = process.getuid?.() === 0;
const P = `npt${randomBytes(2).toString("hex")}`;
const LBPROBE = fileURLToPath(new URL("./testing/lbprobe.js", import.meta.url));
const HOSTS = [1, 2] as const;
type Host = (typeof HOSTS)[number];
const UNDERLAY = `${P}-ul`;
const MTU = 1450;
/** Where providers (and x) listen; the services' VIP port is 80. */
const PORT = 7007;

const hostNs = (h: Host): string => `${P}-h${h}`;
const prefixOf = (h: Host): string => `${P}${h}`;
const vtep = (h: Host): string => `198.18.0.1${h}`;
const containerNs = (name: string): string => `${P}-c-${name}`;
const tenantNs = (h: Host): string => tenantNamespace(prefixOf(h), "a");

interface NetDef {
  name: "blue" | "red";
  vni: number;
  third: number;
  v6: boolean;
}
const NETS: NetDef[] = [
  { name: "blue", vni: 2001, third: 1, v6: true },
  { name: "red", vni: 2002, third: 2, v6: false },
];

interface Container {
  name: string;
  network: NetDef["name"];
  host: Host;
  index: number;
}
const CONTAINERS: Container[] = [
  { name: "p1", network: "blue", host: 1, index: 1 },
  { name: "p2", network: "blue", host: 1, index: 2 },
  { name: "c", network: "blue", host: 1, index: 3 },
  { name: "x", network: "blue", host: 1, index: 4 },
  { name: "r", network: "red", host: 1, index: 1 },
  { name: "p3", network: "blue", host: 2, index: 11 },
];
const byName = (name: string): Container => CONTAINERS.find((c) => c.name === name)!;
const netOf = (c: Container): NetDef => NETS.find((n) => n.name === c.network)!;
const v4 = (name: string): string => `198.18.${netOf(byName(name)).third}.${byName(name).index}`;
const v6 = (name: string): string => (netOf(byName(name)).v6 ? `fd00:${netOf(byName(name)).third}::${byName(name).index}` : "");
const mac = (c: Container): string => `02:00:00:00:0${netOf(c).third}:${String(c.index).padStart(2, "0")}`;

const GATEWAY = "198.18.1.254";
const GATEWAY6 = "fd00:1::fe";
/** web: p1 and p2. */
const WEB = "198.18.1.100";
const WEB6 = "fd00:1::100";
/** none: no provider at all. */
const NONE = "198.18.1.101";
const NONE6 = "fd00:1::101";
/** far: p3, on host 2. */
const FAR = "198.18.1.102";
const FAR6 = "fd00:1::102";
/** v4only: p1 without its IPv6 address. */
const V4ONLY = "198.18.1.103";
const V4ONLY6 = "fd00:1::103";

interface Options {
  webProviders: string[];
  /** Providers whose TCP port the policy denies (an `in` rule on a group of them). */
  deny: string[];
  services: boolean;
}
const DEFAULTS: Options = { webProviders: ["p1", "p2"], deny: [], services: true };

const provider = (name: string, ipv6 = true): DesiredServiceProvider => ({ endpoint: `${P}-${name}`, ipv4: v4(name), ipv6: ipv6 ? v6(name) : "" });

function services(o: Options): DesiredService[] {
  const both = (port: number) => [
    { protocol: "tcp" as const, port, targetPort: PORT },
    { protocol: "udp" as const, port, targetPort: PORT },
  ];
  return [
    { name: "web", network: "blue", vip: WEB, vip6: WEB6, ports: both(80), providers: o.webProviders.map((p) => provider(p)) },
    { name: "none", network: "blue", vip: NONE, vip6: NONE6, ports: both(80), providers: [] },
    { name: "far", network: "blue", vip: FAR, vip6: FAR6, ports: both(80), providers: [provider("p3")] },
    { name: "v4only", network: "blue", vip: V4ONLY, vip6: V4ONLY6, ports: both(80), providers: [provider("p1", false)] },
  ];
}

/** Host h's policy: an `in` rule is judged on the host of the endpoints it protects, as the agent compiles it. */
function policy(o: Options, h: Host): PolicyInput {
  const networks = NETS.map((n) => ({ name: n.name, bridge: bridgeName(n.name), subnet: `198.18.${n.third}.0/24`, ipv6Subnet: n.v6 ? `fd00:${n.third}::/64` : "" }));
  const denied = o.deny.filter((name) => byName(name).host === h);
  if (denied.length === 0) return { fwdMode: "bridge", networks, groups: [], rules: [] };
  return {
    fwdMode: "bridge",
    networks,
    groups: [{ id: 1, name: "providers", ipv4: denied.map(v4), ipv6: denied.map(v6), dscp: 0 }],
    rules: [{ key: "a:deny-web:1", groupId: 1, direction: "in", priority: 1, action: "deny", protocol: 6, port: PORT }],
  };
}

function network(def: NetDef, h: Host, o: Options): DesiredNetwork {
  const others = CONTAINERS.filter((c) => c.network === def.name && c.host !== h);
  return {
    name: def.name,
    bridge: bridgeName(def.name),
    subnet: `198.18.${def.third}.0/24`,
    gateway: `198.18.${def.third}.254`,
    ipv6Subnet: def.v6 ? `fd00:${def.third}::/64` : "",
    ipv6Gateway: def.v6 ? `fd00:${def.third}::fe` : "",
    mtu: MTU,
    routed: false,
    // What the agent sets on every bridge of a tenant with services: bridged replies must meet conntrack.
    netfilter: true,
    interceptDns: def.name === "blue" && o.services,
    vxlan: {
      vni: def.vni,
      device: vxlanName(def.vni),
      localVtep: vtep(h),
      port: 4789,
      peers: HOSTS.filter((x) => x !== h).map(vtep),
      arpMode: "proxy",
      remotes: others.map((c) => ({ id: `${P}-${c.name}`, mac: mac(c), ipv4: v4(c.name), ipv6: v6(c.name), vtep: vtep(c.host) })),
    },
  };
}

function endpoint(c: Container): DesiredEndpoint {
  const net = netOf(c);
  return {
    id: `${P}-${c.name}`,
    network: c.network,
    hostLink: endpointLinkName(`${P}-${c.name}`),
    netns: `/var/run/netns/${containerNs(c.name)}`,
    ifname: "eth0",
    mac: mac(c),
    ipv4: `${v4(c.name)}/24`,
    ipv6: net.v6 ? `${v6(c.name)}/64` : "",
    gateway: `198.18.${net.third}.254`,
    ipv6Gateway: net.v6 ? `fd00:${net.third}::fe` : "",
    mtu: MTU,
    qos: { egressBps: 0, ingressBps: 0, burstBytes: 0 },
  };
}

function desired(h: Host, options: Partial<Options> = {}): DesiredHost {
  const o = { ...DEFAULTS, ...options };
  return {
    prefix: prefixOf(h),
    host: { natOutbound: false },
    tenants: [
      {
        name: "a",
        namespace: tenantNs(h),
        fwdMode: "bridge",
        networks: NETS.map((n) => network(n, h, o)),
        endpoints: CONTAINERS.filter((c) => c.host === h).map(endpoint),
        policy: policy(o, h),
        hostEndpoints: [],
        services: o.services ? services(o) : [],
      },
    ],
  };
}

interface Tally {
  answers: Record<string, number>;
  peers: Record<string, number>;
  refused: number;
  timeout: number;
  error: number;
}

/** COUNT connections (tcp) or flows (udp) from a container; what answered, whom they saw, what failed. */
async function lb(container: string, kind: "tcp" | "udp", address: string, port: number, count: number, timeoutMs = 1_000, from?: number): Promise<Tally> {
  const argv = [process.execPath, LBPROBE, kind, address, String(port), String(count), String(timeoutMs), ...(from === undefined ? [] : [String(from)])];
  const { code, stdout: out, stderr: err } = await run(argv, { netns: containerNs(container), timeoutMs: 60_000 });
  if (code !== 0) throw new Error(`lbprobe ${kind} ${address} in ${container}: exit ${code}: ${err}`);
  return JSON.parse(out.trim().split("\n").pop()!) as Tally;
}

/** Starts lbprobe serve or hold in a namespace; resolves with its ready line once it printed one, and its last line later. */
function start(ns: string, ...args: Array<string | number>): Promise<{ ready: Record<string, unknown>; done: Promise<Record<string, unknown>> }> {
  const child = spawnIn(ns, [process.execPath, LBPROBE, ...args.map(String)]);
  let out = "";
  const done = new Promise<Record<string, unknown>>((resolve) =>
    child.on("close", () => resolve(JSON.parse(out.trim().split("\n").pop() ?? "{}") as Record<string, unknown>)),
  );
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      const line = out.split("\n").find((l) => l.includes('"ready":true'));
      if (line !== undefined) resolve({ ready: JSON.parse(line) as Record<string, unknown>, done });
    });
    child.on("exit", (code) => reject(new Error(`lbprobe ${args.join(" ")} in ${ns} exited ${code}: ${out}`)));
  });
}

async function bridgeAddresses(h: Host, network: string): Promise<string[]> {
  const out = await exec.run(["ip", "-n", tenantNs(h), "-json", "addr", "show", "dev", bridgeName(network)]);
  const links = JSON.parse(out) as Array<{ addr_info: Array<{ local: string; prefixlen: number; scope: string }> }>;
  return links[0]!.addr_info.filter((a) => a.scope === "global").map((a) => `${a.local}/${a.prefixlen}`).sort();
}

async function hairpin(h: Host, container: string): Promise<boolean | undefined> {
  const argv = ["ip", "-n", tenantNs(h), "-json", "-d", "link", "show", endpointLinkName(`${P}-${container}`)];
  return parseLinks(await exec.run(argv), argv)[0]?.linkinfo?.info_slave_data?.hairpin;
}

/** The reply sources (the providers) of a host's conntrack entries from a client's port `from` to port 80, as conntrack -L prints them. */
async function replySources(h: Host, kind: "tcp" | "udp", vip: string, from: number): Promise<string[]> {
  const family = vip.includes(":") ? "ipv6" : "ipv4";
  const out = await exec.run(["conntrack", "-L", "-f", family, "-p", kind, "--orig-port-src", String(from), "--orig-port-dst", "80"], { netns: tenantNs(h) });
  // "tcp 6 117 SYN_SENT src=C dst=VIP sport=F dport=80 [UNREPLIED] src=P dst=C sport=7007 dport=F …": the second src.
  return out.split("\n").filter((l) => l.trim() !== "").map((l) => [...l.matchAll(/ src=(\S+)/g)][1]?.[1] ?? l);
}

async function sysctl(h: Host, key: string): Promise<string> {
  return (await exec.run(["sysctl", "-n", key], { netns: tenantNs(h) })).trim();
}

describe("service load balancers and DNS interception on two simulated hosts", { skip: isRoot ? false : "needs root" }, () => {
  let agents = new Map<Host, LinuxDatapath>(HOSTS.map((h) => [h, new LinuxDatapath(exec, { hostNamespace: hostNs(h) })]));
  const reconcileAll = async (options: Partial<Options> = {}): Promise<void> => {
    const reports = await Promise.all(HOSTS.map((h) => agents.get(h)!.reconcile(desired(h, options))));
    for (const [i, r] of reports.entries()) assert.deepEqual(r.errors, [], `host ${i + 1}: ${JSON.stringify(r.errors)}`);
  };

  before(async () => {
    const ip = (...args: string[]): Promise<string> => exec.run(["ip", ...args]);
    await ip("netns", "add", UNDERLAY);
    await ip("-n", UNDERLAY, "link", "add", "br0", "type", "bridge");
    await ip("-n", UNDERLAY, "link", "set", "br0", "up");
    for (const h of HOSTS) {
      await ip("netns", "add", hostNs(h));
      await ip("-n", UNDERLAY, "link", "add", `u${h}`, "type", "veth", "peer", "name", "eth0", "netns", hostNs(h));
      await ip("-n", UNDERLAY, "link", "set", `u${h}`, "master", "br0", "up");
      await ip("-n", hostNs(h), "addr", "add", `${vtep(h)}/24`, "dev", "eth0");
      await ip("-n", hostNs(h), "link", "set", "eth0", "up");
      await ip("-n", hostNs(h), "link", "set", "lo", "up");
    }
    for (const c of CONTAINERS) {
      await ip("netns", "add", containerNs(c.name));
      await ip("-n", containerNs(c.name), "link", "set", "lo", "up");
    }
  });

  after(async () => {
    killChildren();
    try {
      await Promise.all(HOSTS.map((h) => agents.get(h)!.cleanup(prefixOf(h))));
    } finally {
      await removeNamespaces(P);
    }
  });

  it("builds both hosts: VIPs on the bridge, hairpin on local providers only, forwarding on; a second reconcile plans nothing", async () => {
    await reconcileAll();
    for (const h of HOSTS) assert.deepEqual(await agents.get(h)!.plan(desired(h)), { steps: [], problems: [] }, `host ${h}`);
    for (const h of HOSTS) {
      assert.deepEqual(await bridgeAddresses(h, "blue"), [
        `${GATEWAY}/24`, `${WEB}/32`, `${NONE}/32`, `${FAR}/32`, `${V4ONLY}/32`, `${GATEWAY6}/64`, `${WEB6}/128`, `${NONE6}/128`, `${FAR6}/128`, `${V4ONLY6}/128`,
      ].sort());
      assert.deepEqual([await sysctl(h, "net.ipv4.ip_forward"), await sysctl(h, "net.ipv6.conf.all.forwarding")], ["1", "1"], `host ${h}`);
    }
    assert.deepEqual(await Promise.all(["p1", "p2", "c"].map((c) => hairpin(1, c))), [true, true, false]);
    assert.equal(await hairpin(2, "p3"), true);
    await Promise.all(["p1", "p2", "p3", "x"].map((c) => start(containerNs(c), "serve", c, PORT)));
    // The tenant's DNS stands in here: a responder on blue's gateway only.
    await start(tenantNs(1), "serve", "dns", 53, GATEWAY);
  });

  it("spreads 200 TCP connections to the VIP evenly over both providers; the container not in the list gets none", async (t) => {
    const r = await lb("c", "tcp", WEB, 80, 200);
    t.diagnostic(`200 connections: ${JSON.stringify(r.answers)}`);
    assert.deepEqual(Object.keys(r.answers).sort(), ["p1", "p2"], JSON.stringify(r));
    for (const p of ["p1", "p2"]) assert.ok(r.answers[p]! >= 70 && r.answers[p]! <= 130, `${p}: ${r.answers[p]} of 200`);
    // Each reply came from the VIP (the client's socket would have reset anything else), and the providers saw
    // the client itself: DNAT only.
    assert.deepEqual(r.peers, { [v4("c")]: 200 });
  });

  it("UDP: each new flow goes to a provider and is answered from the VIP; IPv6 likewise", async () => {
    const udp = await lb("c", "udp", WEB, 80, 40);
    assert.equal(udp.answers.p1! + udp.answers.p2!, 40, JSON.stringify(udp));
    assert.ok(udp.answers.p1! > 0 && udp.answers.p2! > 0, JSON.stringify(udp));
    const tcp6 = await lb("c", "tcp", WEB6, 80, 40);
    assert.ok(tcp6.answers.p1! > 0 && tcp6.answers.p2! > 0 && tcp6.answers.p1! + tcp6.answers.p2! === 40, JSON.stringify(tcp6));
    assert.deepEqual(tcp6.peers, { [v6("c")]: 40 });
    const udp6 = await lb("c", "udp", WEB6, 80, 20);
    assert.equal(udp6.answers.p1! + udp6.answers.p2!, 20, JSON.stringify(udp6));
  });

  it("hairpin: a provider that calls its own service and gets itself is answered, seeing the gateway as source", async () => {
    for (const [vip, gateway] of [[WEB, GATEWAY], [WEB6, GATEWAY6]] as const) {
      const r = await lb("p1", "tcp", vip, 80, 30);
      assert.ok(r.answers.p1! > 0 && r.answers.p2! > 0 && r.answers.p1! + r.answers.p2! === 30, JSON.stringify(r));
      // To itself masqueraded to the gateway; to the other provider as itself.
      assert.deepEqual(r.peers, { [gateway]: r.answers.p1, [vip === WEB ? v4("p1") : v6("p1")]: r.answers.p2 });
    }
  });

  it("no provider: refused at once (TCP reset, ICMP port unreachable), also for the family no provider has; ping to the VIP answered", async () => {
    for (const [kind, vip] of [["tcp", NONE], ["udp", NONE], ["tcp", NONE6], ["udp", NONE6], ["tcp", V4ONLY6]] as const) {
      const r = await lb("c", kind, vip, 80, 3);
      assert.deepEqual([r.refused, r.answers], [3, {}], `${kind} ${vip}: ${JSON.stringify(r)}`);
    }
    assert.deepEqual((await lb("c", "tcp", V4ONLY, 80, 3)).answers, { p1: 3 });
    assert.equal(await ping(containerNs("c"), NONE), true);
    assert.equal(await ping(containerNs("c"), NONE6), true);
  });

  it("a provider on the other host, behind VXLAN: it answers the client at L2, the client sees the VIP", async () => {
    assert.deepEqual(await lb("c", "tcp", FAR, 80, 5), { answers: { p3: 5 }, peers: { [v4("c")]: 5 }, refused: 0, timeout: 0, error: 0 });
    assert.deepEqual((await lb("c", "tcp", FAR6, 80, 5)).peers, { [v6("c")]: 5 });
    assert.deepEqual((await lb("c", "udp", FAR, 80, 5)).answers, { p3: 5 });
  });

  it("bridge mode: a client on another network reaches the VIP, while routing between the networks stays blocked", async () => {
    const r = await lb("r", "tcp", WEB, 80, 20);
    assert.equal(r.answers.p1! + r.answers.p2!, 20, JSON.stringify(r));
    assert.deepEqual(r.peers, { [v4("r")]: 20 });
    assert.deepEqual(await lb("r", "tcp", v4("p1"), PORT, 1, 500), { answers: {}, peers: {}, refused: 0, timeout: 1, error: 0 });
    assert.equal(await ping(containerNs("r"), v4("x")), false);
    // A DNATed flow opens no door the other way.
    assert.equal((await lb("p1", "tcp", v4("r"), PORT, 1, 500)).timeout, 1);
  });

  it("running connections survive a change; a provider removed gets no new connection", async () => {
    // Connections to the VIP until each provider holds one (numgen picks at random).
    const held = new Map<string, Promise<Record<string, unknown>>>();
    for (let i = 0; i < 20 && held.size < 2; i++) {
      const { ready, done } = await start(containerNs("c"), "hold", WEB, 80, 60, 50);
      if (!held.has(String(ready.tag))) held.set(String(ready.tag), done);
    }
    assert.deepEqual([...held.keys()].sort(), ["p1", "p2"]);
    await reconcileAll({ webProviders: ["p1"] });
    const after = await lb("c", "tcp", WEB, 80, 50);
    assert.deepEqual(after.answers, { p1: 50 });
    for (const [tag, done] of held) {
      assert.deepEqual(await done, { sent: 60, received: 60, tags: [tag], error: null }, `the connection held by ${tag}`);
    }
    await reconcileAll();
    assert.ok((await lb("c", "tcp", WEB, 80, 20)).answers.p2! > 0, "p2 is back");
  });

  it("a provider removed takes its conntrack entries along, also after a restart: a new connection or flow from a stale entry's port goes to the provider that stays, whose running connection goes on", async () => {
    // The client is p3, on host 2: its host DNATs, and a SYN that host 1 drops leaves an entry there (a packet
    // dropped on the host that DNATs it leaves none: its entry is never confirmed).
    let held: Promise<Record<string, unknown>> | undefined;
    for (let i = 0; i < 20 && held === undefined; i++) {
      const { ready, done } = await start(containerNs("p3"), "hold", WEB, 80, 240, 50);
      if (ready.tag === "p1") held = done;
    }
    assert.ok(held !== undefined, "no connection to the VIP landed on p1");
    let finished = false;
    void held.then(() => (finished = true));
    // Entries left DNATed to p2, as in CI: SYNs that a deny on p2 drops leave SYN_SENT entries (120 s), which a new
    // connection from the same port meets as a retransmission; UDP flows p2 answered live on (30 s) likewise.
    await reconcileAll({ deny: ["p2"] });
    const stale: Array<{ kind: "tcp" | "udp"; vip: string; from: number }> = [];
    let from = 20_000;
    for (const kind of ["tcp", "udp"] as const) {
      for (const vip of [WEB, WEB6]) {
        for (let tries = 0; ; tries++) {
          assert.ok(tries < 30, `no ${kind} flow to ${vip} went to p2`);
          from += 1;
          const r = await lb("p3", kind, vip, 80, 1, 300, from);
          if (kind === "tcp" ? r.timeout === 1 : r.answers.p2 === 1) break;
        }
        stale.push({ kind, vip, from });
        assert.deepEqual(await replySources(2, kind, vip, from), [vip === WEB ? v4("p2") : v6("p2")], `${kind} ${vip} from ${from}`);
      }
    }
    // p2 leaves the service and the deny goes: the entries would now lead a new connection to a p2 that answers.
    // (Established connections to p2 are left alone: "running connections survive a change" holds one.)
    agents = new Map(HOSTS.map((h) => [h, new LinuxDatapath(exec, { hostNamespace: hostNs(h) })]));
    await reconcileAll({ webProviders: ["p1"] });
    for (const { kind, vip, from: port } of stale) {
      assert.deepEqual(await replySources(2, kind, vip, port), [], `${kind} ${vip} from ${port}: entries left`);
      assert.deepEqual((await lb("p3", kind, vip, 80, 1, 1_000, port)).answers, { p1: 1 }, `${kind} ${vip} from ${port}`);
    }
    assert.equal(finished, false, "the held connection ended before the change: it proves nothing");
    assert.deepEqual(await held, { sent: 240, received: 240, tags: ["p1"], error: null });
    await reconcileAll();
  });

  it("policy judges the connection as a direct one: a deny rule on the providers' group blocks the VIP as it blocks direct access", async () => {
    await reconcileAll({ deny: ["p1", "p2"] });
    assert.equal((await lb("c", "tcp", WEB, 80, 3, 300)).timeout, 3, "to the VIP");
    assert.equal((await lb("c", "tcp", v4("p1"), PORT, 1, 300)).timeout, 1, "to p1 directly");
    assert.equal((await lb("c", "tcp", WEB6, 80, 2, 300)).timeout, 2, "to the IPv6 VIP");
    // UDP and providers outside the group are not concerned.
    assert.equal((await lb("c", "udp", WEB, 80, 4)).timeout, 0);
    assert.deepEqual((await lb("c", "tcp", FAR, 80, 2)).answers, { p3: 2 });
    await reconcileAll();
    assert.equal((await lb("c", "tcp", WEB, 80, 4)).timeout, 0);
  });

  it("DNS interception: a query to a resolver elsewhere is answered by the gateway's responder, from the address asked", async () => {
    for (const kind of ["udp", "tcp"] as const) {
      // The client's socket is connected to 198.18.9.9:53: only an answer from there reaches it.
      assert.deepEqual((await lb("c", kind, "198.18.9.9", 53, 2)).answers, { dns: 2 }, kind);
    }
    assert.deepEqual((await lb("c", "udp", "198.18.9.9", 53, 1)).peers, { [v4("c")]: 1 }, "the responder saw the container");
    // Red does not intercept: its query goes nowhere (the tenant has no route out).
    assert.deepEqual((await lb("r", "udp", "198.18.9.9", 53, 1, 500)).answers, {});
  });

  it("a restarted agent re-applies nothing of the services: the table is recognised by its tag", async () => {
    agents = new Map(HOSTS.map((h) => [h, new LinuxDatapath(exec, { hostNamespace: hostNs(h) })]));
    const plan = await agents.get(1)!.plan(desired(1));
    assert.deepEqual(plan.steps.map((s) => `${s.namespace} ${s.object}`), [`${tenantNs(1)} nft table inet netplugin`]);
    await reconcileAll();
  });

  it("without services: the table, the VIPs, hairpin and forwarding go; the VIP answers no more", async () => {
    await reconcileAll({ services: false });
    const tables = await exec.run(["nft", "list", "tables"], { netns: tenantNs(1) });
    assert.ok(!tables.includes("netplugin_lb"), tables);
    assert.deepEqual(await bridgeAddresses(1, "blue"), [`${GATEWAY}/24`, `${GATEWAY6}/64`]);
    assert.deepEqual([await sysctl(1, "net.ipv4.ip_forward"), await sysctl(1, "net.ipv6.conf.all.forwarding")], ["0", "0"]);
    assert.equal(await hairpin(1, "p1"), false);
    assert.equal((await lb("c", "tcp", WEB, 80, 1, 500)).timeout, 1);
    assert.deepEqual((await lb("c", "tcp", v4("p1"), PORT, 1)).answers, { p1: 1 });
  });
});
