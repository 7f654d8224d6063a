// The process starter carries out an endpoint's `ip -batch` runs over rtnetlink (ip-batch.ts): here the same
// runs go to `ip` itself in one pair of namespaces and to the starter in a twin pair, and both must answer the
// same (exit status, each failed line's message) and leave the same kernel state (links, addresses, routes,
// as `ip -json` shows them). Then real packets cross the veth the starter made.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";

import { ProcessError, type Executor } from "../../../lib/process.js";
import { SPAWNER, SpawnerExecutor } from "../../../lib/spawner.js";
import { exec, ping, removeNamespaces } from "../testing/netns.js";

const P = `npt${randomBytes(2).toString("hex")}nl`;
const twins = { ip: { tenant: `${P}-ti`, container: `${P}-ci` }, spawner: { tenant: `${P}-ts`, container: `${P}-cs` } } as const;
type Twin = (typeof twins)[keyof typeof twins];

/** What one run answered: its exit status and stderr. */
async function answer(executor: Executor, argv: string[], stdin: string): Promise<{ code: number | null; stderr: string }> {
  try {
    await executor.run(argv, { stdin });
    return { code: 0, stderr: "" };
  } catch (err) {
    if (!(err instanceof ProcessError)) throw err;
    return { code: err.exitCode, stderr: err.stderr };
  }
}

/** The namespace's links, addresses and routes as `ip -json` shows them, without what the kernel picks (indexes, random MACs). */
async function state(ns: string): Promise<unknown> {
  const links = JSON.parse(await exec.run(["ip", "-n", ns, "-json", "-details", "link", "show"])) as Record<string, unknown>[];
  const addrs = JSON.parse(await exec.run(["ip", "-n", ns, "-json", "addr", "show"])) as { ifname: string; addr_info: Record<string, unknown>[] }[];
  const routes = async (family: string) =>
    (JSON.parse(await exec.run(["ip", "-n", ns, "-json", family, "route", "show"])) as Record<string, unknown>[]).map((r): Record<string, unknown> => ({
      ...r,
      // "linkdown" follows the carrier: not compared.
      flags: ((r["flags"] as string[] | undefined) ?? []).filter((f) => f !== "linkdown"),
    }));
  const info = (l: Record<string, unknown>) => l["linkinfo"] as { info_kind?: string; info_slave_kind?: string } | undefined;
  return {
    links: links.map((l) => ({
      ifname: l["ifname"],
      // Carrier and operational state follow a moment later, whoever made the link: not compared.
      flags: (l["flags"] as string[]).filter((f) => f !== "NO-CARRIER" && f !== "LOWER_UP"),
      mtu: l["mtu"],
      master: l["master"],
      group: l["group"],
      kind: info(l)?.info_kind,
      slave: info(l)?.info_slave_kind,
      // A MAC the batch chose is compared; one the kernel drew at random is not.
      address: l["ifname"] === "eth0" ? l["address"] : undefined,
    })),
    addrs: addrs.map((a) => ({ ifname: a.ifname, addr: a.addr_info.filter((x) => x["scope"] !== "link").map((x) => [x["family"], x["local"], x["prefixlen"], x["scope"], x["noprefixroute"]]) })),
    routes4: await routes("-4"),
    routes6: (await routes("-6")).filter((r) => !String(r["dst"]).startsWith("fe80")),
  };
}

describe("ip -batch over rtnetlink, against ip itself", { skip: existsSync(SPAWNER) ? false : "the process starter is built by make build" }, () => {
  const spawner = new SpawnerExecutor(SPAWNER);
  const executors: Record<keyof typeof twins, Executor> = { ip: exec, spawner };

  before(async () => {
    for (const t of Object.values(twins)) {
      for (const ns of [t.tenant, t.container]) await exec.run(["ip", "netns", "add", ns]);
      await exec.run(["ip", "-n", t.tenant, "link", "add", "nbr0", "type", "bridge"]);
      await exec.run(["ip", "-n", t.tenant, "addr", "add", "198.18.64.1/24", "dev", "nbr0"]);
      await exec.run(["ip", "-n", t.tenant, "link", "set", "nbr0", "up"]);
    }
  });

  after(async () => {
    spawner.close();
    await removeNamespaces(P);
  });

  /** Runs the batch in both pairs (its `ip` argv made for each) and checks answers and state agree. */
  async function both(what: string, argv: (t: Twin) => string[], stdin: (t: Twin) => string): Promise<{ code: number | null; stderr: string }> {
    const answers = [];
    for (const [name, t] of Object.entries(twins) as [keyof typeof twins, Twin][]) answers.push(await answer(executors[name], argv(t), stdin(t)));
    assert.deepEqual(answers[1], answers[0], `${what}: the starter answers as ip does`);
    for (const pick of ["tenant", "container"] as const) {
      assert.deepEqual(await state(twins.spawner[pick]), await state(twins.ip[pick]), `${what}: the ${pick} namespace as ip leaves it`);
    }
    return answers[0]!;
  }
  const inTenant = (t: Twin) => ["ip", "-n", t.tenant, "-force", "-batch", "-"];
  // The container's side as the agent runs it for a namespace given by path.
  const inContainer = (t: Twin) => ["nsenter", `--net=/var/run/netns/${t.container}`, "ip", "-force", "-batch", "-"];

  it("an endpoint's ADD: the veth pair into the container, on the bridge; the container's side up with addresses and routes", async () => {
    const made = await both(
      "ADD",
      inTenant,
      (t) =>
        `link add ne1 mtu 1450 type veth peer name eth0 address 02:02:c6:12:40:02 mtu 1450 netns /var/run/netns/${t.container}\nlink set ne1 master nbr0 up\n`,
    );
    assert.deepEqual(made, { code: 0, stderr: "" });
    const up = await both("container side", inContainer, () => "link set eth0 up\naddr add 198.18.64.2/24 dev eth0\naddr add fd00:64::2/64 dev eth0 nodad\nroute add default via 198.18.64.1 dev eth0\nroute add default via fd00:64::1 dev eth0\n");
    assert.deepEqual(up, { code: 0, stderr: "" });
    assert.ok(await ping(twins.spawner.container, "198.18.64.1"), "the container reaches its gateway");
    assert.ok(await ping(twins.spawner.tenant, "198.18.64.2"), "the gateway reaches the container");
  });

  it("lines that fail: each one's message and line number, the others done (-force)", async () => {
    const r = await both(
      "failures",
      inContainer,
      () => "addr add 198.18.64.2/24 dev eth0\nroute add default via 198.18.64.1 dev eth0\nlink set eth0 mtu 99999\nlink set nope up\naddr add 198.18.64.9/24 dev nope\nlink set eth0 mtu 1400\nlink del nope\nlink del group 4242\n",
    );
    assert.equal(r.code, 1);
    assert.deepEqual([...r.stderr.matchAll(/Command failed -:(\d+)/g)].map((m) => Number(m[1])), [1, 2, 3, 4, 5, 7, 8]);
    assert.match(r.stderr, /Cannot find device "nope"/);
  });

  it("an endpoint's DEL: its links into a group, the group deleted (the peer goes with it)", async () => {
    const r = await both("DEL", inTenant, () => "link set ne1 group 4242\nlink del group 4242\n");
    assert.deepEqual(r, { code: 0, stderr: "" });
    assert.equal(JSON.stringify(await state(twins.spawner.container)).includes("eth0"), false);
  });

  it("a namespace that cannot be opened, the run's own or a peer's, sends the run to ip, which says why", async () => {
    const gone = `${P}-gone`;
    const own = await both("gone namespace", () => ["ip", "-n", gone, "-force", "-batch", "-"], () => "link set eth0 up\n");
    assert.match(own.stderr, /Cannot open network namespace/);
    const peer = await both("gone peer namespace", inTenant, () => `link add ne4 type veth peer name eth1 netns ${gone}\n`);
    assert.notEqual(peer.code, 0);
  });

  it("a line it does not carry out sends the whole run to ip, which answers", async () => {
    const r = await both("fallback", inTenant, (t) => `link add ne2 type veth peer name eth0 address 02:02:c6:12:40:03 netns /var/run/netns/${t.container}\nlink set ne2 type bridge_slave hairpin on\n`);
    assert.equal(r.code, 1, "ne2 is not a bridge port: the second line fails");
  });
});
