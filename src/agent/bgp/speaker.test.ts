// Real daemons in namespaces this test creates: an FRR router ("ToR", AS 65000) on an underlay
// bridge with two hosts, each running a BgpSpeaker (gobgpd; AS 65001 and 65002, eBGP).
//
//   npbXXXX-a (198.18.50.11, ctr 198.18.60.5)  ─┐
//   npbXXXX-b (198.18.50.12, ctr 198.18.61.7)  ─┼─ br0 in npbXXXX-ul
//   npbXXXX-tor (198.18.50.1, zebra + bgpd)    ─┘

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { RealExecutor } from "../../lib/process.js";
import { waitFor } from "../../lib/wait.js";
import { FrrRouter } from "./frrRouter.js";
import { BgpSpeaker } from "./speaker.js";
import type { BgpConfig } from "./config.js";
import type { RunCommand } from "./types.js";
import { ValidationError } from "../../lib/errors.js";

function missingTools(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (network namespaces)";
  for (const tool of ["/usr/bin/gobgpd", "/usr/bin/gobgp", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "/usr/bin/vtysh"]) {
    if (!existsSync(tool)) return `${tool} is not installed (apt-get install gobgpd frr)`;
  }
  try {
    execFileSync("start-stop-daemon", ["--version"], { stdio: "ignore" });
  } catch {
    return "start-stop-daemon is not installed";
  }
  return undefined;
}

const skip = missingTools();
const executor = new RealExecutor({ timeoutMs: 20_000 });
const run: RunCommand = (argv, options) => executor.run(argv, options);

/** Our kernel routes in a namespace as "prefix via gw" lines. */
async function bgpRoutes(ns: string): Promise<string[]> {
  const out: string[] = [];
  for (const family of ["-4", "-6"]) {
    const list = JSON.parse(await run(["ip", "-json", family, "route", "show", "proto", "bgp"], { netns: ns })) as {
      dst: string;
      gateway?: string;
    }[];
    out.push(...list.map((r) => `${r.dst} via ${r.gateway ?? "?"}`));
  }
  return out.sort();
}

/** Alive and not a zombie waiting to be reaped. */
function pidAlive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

async function readPid(file: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(file, "utf8")).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

describe("BgpSpeaker without daemons", () => {
  const calls: string[][] = [];
  const notRunning: RunCommand = async (argv) => {
    calls.push(argv);
    // start-stop-daemon --status: 3 = not running
    throw Object.assign(new Error("not running"), { exitCode: 3 });
  };

  it("rejects a bad config before running anything", async () => {
    const s = new BgpSpeaker({ run: notRunning, stateDir: "/nonexistent/npb", resyncIntervalMs: 0 });
    await assert.rejects(s.apply({ routerIp: "x", as: "1", neighbor: "10.0.0.1", neighborAs: "2", announce: [] }), ValidationError);
    assert.deepEqual(calls, []);
  });

  it("inspects an unconfigured host as empty", async () => {
    const s = new BgpSpeaker({ run: notRunning, stateDir: "/nonexistent/npb", resyncIntervalMs: 0 });
    assert.deepEqual(await s.inspect(), { neighborStatus: "", adminStatus: "", numRoutes: 0, routes: [] });
    assert.equal(calls[0]?.[0], "start-stop-daemon");
  });
});

describe("BgpSpeaker with gobgpd against an FRR router", { skip, timeout: 90_000 }, () => {
  const prefix = `npb${randomBytes(3).toString("hex")}`;
  const ns = { ul: `${prefix}-ul`, tor: `${prefix}-tor`, a: `${prefix}-a`, b: `${prefix}-b` };
  let dir = "";
  let router: FrrRouter | undefined;
  const speakers: BgpSpeaker[] = [];
  const gobgpdPids = new Set<number>();

  const configA: BgpConfig = {
    routerIp: "198.18.50.11/24",
    as: "65001",
    neighbor: "198.18.50.1",
    neighborAs: "65000",
    announce: ["198.18.60.5/32", "fd5e:60::5/128"],
  };
  const configB: BgpConfig = {
    routerIp: "198.18.50.12/24",
    as: "65002",
    neighbor: "198.18.50.1",
    neighborAs: "65000",
    announce: ["198.18.61.7/32", "fd5e:61::7/128"],
  };
  const speaker = (host: "a" | "b") => {
    const s = new BgpSpeaker({
      run,
      hostNamespace: ns[host],
      stateDir: join(dir, host),
      resyncIntervalMs: 250,
      connectRetrySec: 1,
    });
    speakers.push(s);
    return s;
  };
  let a: BgpSpeaker;
  let b: BgpSpeaker;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
    await chmod(dir, 0o755); // FRR drops to the frr user and must reach its state dir
    for (const name of Object.values(ns)) {
      await run(["ip", "netns", "add", name]);
      await run(["ip", "-n", name, "link", "set", "lo", "up"]);
    }
    await run(["ip", "-n", ns.ul, "link", "add", "br0", "type", "bridge"]);
    await run(["ip", "-n", ns.ul, "link", "set", "br0", "up"]);
    const hosts: [keyof typeof ns, string, string][] = [
      ["tor", "198.18.50.1/24", "fd5e:50::1/64"],
      ["a", "198.18.50.11/24", "fd5e:50::11/64"],
      ["b", "198.18.50.12/24", "fd5e:50::12/64"],
    ];
    for (const [host, v4, v6] of hosts) {
      await run(["ip", "-n", ns.ul, "link", "add", `v-${host}`, "type", "veth", "peer", "name", "eth0", "netns", ns[host]]);
      await run(["ip", "-n", ns.ul, "link", "set", `v-${host}`, "master", "br0", "up"]);
      await run(["ip", "-n", ns[host], "link", "set", "eth0", "up"]);
      await run(["ip", "-n", ns[host], "addr", "add", v4, "dev", "eth0"]);
      await run(["ip", "-n", ns[host], "addr", "add", v6, "dev", "eth0", "nodad"]);
    }
    // A container address per host (no dummy links on this kernel: a bridge holds it).
    for (const [host, v4, v6] of [
      ["a", "198.18.60.5/32", "fd5e:60::5/128"],
      ["b", "198.18.61.7/32", "fd5e:61::7/128"],
    ] as const) {
      await run(["ip", "-n", ns[host], "link", "add", "ctr", "type", "bridge"]);
      await run(["ip", "-n", ns[host], "link", "set", "ctr", "up"]);
      await run(["ip", "-n", ns[host], "addr", "add", v4, "dev", "ctr"]);
      await run(["ip", "-n", ns[host], "addr", "add", v6, "dev", "ctr", "nodad"]);
    }
    router = await FrrRouter.start({
      run,
      netns: ns.tor,
      stateDir: join(dir, "tor"),
      name: prefix,
      routerId: "198.18.50.1",
      as: 65000,
      neighbors: [
        { address: "198.18.50.11", as: 65001 },
        { address: "198.18.50.12", as: 65002 },
      ],
      connectRetrySec: 1,
    });
    a = speaker("a");
    b = speaker("b");
  });

  after(async () => {
    for (const s of speakers) await s.stop().catch(() => undefined);
    for (const s of speakers.slice(-2)) await s.apply(undefined).catch(() => undefined);
    // Anything a failed teardown left: only the pids we recorded or our pid files name.
    for (const host of ["a", "b"]) {
      const pid = await readPid(join(dir, host, "gobgpd.pid"));
      if (pid !== undefined) gobgpdPids.add(pid);
    }
    for (const pid of gobgpdPids) {
      if (pidAlive(pid)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    await router?.stop().catch(() => undefined);
    for (const name of Object.values(ns)) await run(["ip", "netns", "del", name]).catch(() => undefined);
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  it("announces each host's prefixes to the router and installs the other host's", async () => {
    await Promise.all([a.apply(configA), b.apply(configB)]);
    for (const host of ["a", "b"]) {
      const pid = await readPid(join(dir, host, "gobgpd.pid"));
      assert.ok(pid !== undefined, `gobgpd pid file for ${host}`);
      gobgpdPids.add(pid);
    }
    await waitFor(async () => {
      const v4 = await router!.routes("ipv4");
      const v6 = await router!.routes("ipv6");
      return (
        v4.get("198.18.60.5/32")?.includes("198.18.50.11") === true &&
        v4.get("198.18.61.7/32")?.includes("198.18.50.12") === true &&
        v6.get("fd5e:60::5/128")?.includes("fd5e:50::11") === true &&
        v6.get("fd5e:61::7/128")?.includes("fd5e:50::12") === true
      );
    }, { timeoutMs: 20_000, what: () => "the router has not learned both hosts' routes" });
    const routesB = await waitFor(async () => {
      const r = await bgpRoutes(ns.b);
      return r.includes("198.18.60.5 via 198.18.50.11") && r.some((l) => l.startsWith("fd5e:60::5 via ")) ? r : undefined;
    }, { timeoutMs: 20_000, what: () => "host B lacks its kernel routes" });
    // The router's own routes, installed by its zebra, also point at the hosts.
    assert.match(await run(["ip", "route", "show", "198.18.60.5"], { netns: ns.tor }), /via 198\.18\.50\.11 .*proto bgp/);
    // Our own prefixes are never installed on the host that announces them.
    assert.ok(!routesB.some((l) => l.startsWith("198.18.61.7 ")));
    await waitFor(async () => (await bgpRoutes(ns.a)).includes("198.18.61.7 via 198.18.50.12"), {
      timeoutMs: 20_000,
      what: () => "host A has no kernel route to B's container",
    });
  });

  it("carries traffic between the containers' addresses, IPv4 and IPv6", async () => {
    await waitFor(async () => {
      await run(["ping", "-c", "1", "-W", "1", "-I", "198.18.61.7", "198.18.60.5"], { netns: ns.b });
      return true;
    }, { timeoutMs: 10_000, what: () => "no IPv4 ping B → A" });
    await waitFor(async () => {
      await run(["ping", "-6", "-c", "1", "-W", "1", "-I", "fd5e:61::7", "fd5e:60::5"], { netns: ns.b });
      return true;
    }, { timeoutMs: 10_000, what: () => "no IPv6 ping B → A" });
  });

  it("inspect() reports the session and the learned routes", async () => {
    const oper = await a.inspect();
    assert.equal(oper.neighborStatus, "established");
    assert.equal(oper.adminStatus, "up");
    assert.ok(oper.routes.includes("198.18.61.7/32 via 198.18.50.12"), JSON.stringify(oper.routes));
    assert.ok(oper.routes.some((r) => r.startsWith("fd5e:61::7/128 via ")), JSON.stringify(oper.routes));
    assert.equal(oper.numRoutes, oper.routes.length);
    assert.ok(!oper.routes.some((r) => r.startsWith("198.18.60.5/32")), "own prefix is not a learned route");
  });

  it("a restarted agent adopts its gobgpd instead of starting another or duplicating routes", async () => {
    const pidBefore = await readPid(join(dir, "a", "gobgpd.pid"));
    const kernelBefore = await bgpRoutes(ns.a);
    await a.stop();
    const a2 = speaker("a");
    await a2.apply(configA);
    await a2.apply(configA);
    assert.equal(await readPid(join(dir, "a", "gobgpd.pid")), pidBefore);
    const sock = join(dir, "a", "gobgpd.sock");
    const rib = JSON.parse(await run(["gobgp", "--target", `unix://${sock}`, "global", "rib", "-a", "ipv4", "-j"])) as Record<
      string,
      { "neighbor-ip"?: string }[]
    >;
    const localPaths = Object.values(rib).flat().filter((p) => p["neighbor-ip"] === undefined);
    assert.equal(localPaths.length, 1);
    assert.deepEqual(await bgpRoutes(ns.a), kernelBefore);
    a = a2;
  });

  it("withdraws a prefix that leaves the announce list, from the router and from the other host", async () => {
    await a.apply({ ...configA, announce: ["fd5e:60::5/128"] });
    await waitFor(async () => !(await router!.routes("ipv4")).has("198.18.60.5/32"), { timeoutMs: 20_000, what: () => "the router still has 198.18.60.5/32" });
    await waitFor(async () => !(await bgpRoutes(ns.b)).some((l) => l.startsWith("198.18.60.5 ")), { timeoutMs: 20_000, what: () => "host B kept its route" });
    assert.ok((await router!.routes("ipv6")).has("fd5e:60::5/128"), "the IPv6 prefix stays");
  });

  it("starts gobgpd again when it dies, and announces again", async () => {
    const pid = await readPid(join(dir, "b", "gobgpd.pid"));
    assert.ok(pid !== undefined);
    process.kill(pid, "SIGKILL");
    const newPid = await waitFor(async () => {
      const p = await readPid(join(dir, "b", "gobgpd.pid"));
      return p !== undefined && p !== pid && pidAlive(p) ? p : undefined;
    }, { timeoutMs: 20_000, what: () => "no new gobgpd for B" });
    gobgpdPids.add(newPid);
    await waitFor(async () => (await b.inspect()).neighborStatus === "established", { timeoutMs: 30_000, what: () => "B's session did not come back" });
    await waitFor(async () => (await router!.routes("ipv4")).get("198.18.61.7/32")?.includes("198.18.50.12") === true, {
      timeoutMs: 20_000,
      what: () => "the router did not learn B's prefix again",
    });
  });

  it("apply(undefined) stops gobgpd and removes the routes it installed", async () => {
    const pid = await readPid(join(dir, "b", "gobgpd.pid"));
    assert.ok(pid !== undefined);
    // A route that is not ours must survive.
    await run(["ip", "route", "add", "198.18.99.0/24", "via", "198.18.50.1"], { netns: ns.b });
    await b.apply(undefined);
    assert.equal(pidAlive(pid), false);
    assert.deepEqual(await bgpRoutes(ns.b), []);
    assert.match(await run(["ip", "route", "show", "198.18.99.0/24"], { netns: ns.b }), /via 198\.18\.50\.1/);
    assert.deepEqual(await b.inspect(), { neighborStatus: "", adminStatus: "", numRoutes: 0, routes: [] });
    await b.apply(undefined); // idempotent
    await waitFor(async () => (await bgpRoutes(ns.a)).length === 0, { timeoutMs: 20_000, what: () => "host A kept B's routes" });
  });
});
