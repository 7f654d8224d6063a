import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { applyPlan, invocations } from "./apply.js";
import { FakeExecutor } from "./testing/fakeExecutor.js";
import type { Plan, Step } from "./plan.js";
import { StepBuilder } from "./stepBuilder.js";

function tenantPlan(namespace: string): Step[] {
  const b = StepBuilder.of(namespace, { tenant: "a" });
  b.netns("create", ["add", namespace]);
  b.sysctl("sysctls", ["-w", "net.ipv4.ip_forward=1"]);
  b.ip("bridge", "create", "bridge nb1", ["link", "add", "nb1", "type", "bridge"]);
  b.ip("address", "create", "address 198.18.1.254/24 on nb1", ["addr", "add", "198.18.1.254/24", "dev", "nb1"]);
  b.ip("veth", "create", "veth ne1", ["link", "add", "ne1", "type", "veth", "peer", "name", "eth0", "netns", "/run/netns/c1"]);
  b.containerIp("container", "create", "interface eth0", "/run/netns/c1", ["link", "set", "eth0", "up"]);
  b.containerIp("route", "create", "default route", "/run/netns/c1", ["route", "add", "default", "via", "198.18.1.254", "dev", "eth0"]);
  b.tc("create", "tbf on ne1", ["qdisc", "replace", "dev", "ne1", "root", "handle", "1:", "tbf", "rate", "8bit"]);
  b.nft("create", "nft table", ["-f", "-"], "table inet netplugin {}\n");
  return b.steps();
}

describe("applyPlan", () => {
  it("batches consecutive ip/tc lines per target and runs everything in plan order", async () => {
    const fake = new FakeExecutor({ stdout: "" });
    const plan: Plan = { steps: tenantPlan("np-t-a"), problems: [] };
    const result = await applyPlan(fake, plan);
    assert.deepEqual(result.failures, []);
    assert.equal(result.applied.length, plan.steps.length);
    assert.deepEqual(
      fake.calls.map((c) => [c.argv.join(" "), c.stdin]),
      [
        ["ip netns add np-t-a", undefined],
        ["ip netns exec np-t-a sysctl -w net.ipv4.ip_forward=1", undefined],
        [
          "ip -n np-t-a -force -batch -",
          "link add nb1 type bridge\naddr add 198.18.1.254/24 dev nb1\nlink add ne1 type veth peer name eth0 netns /run/netns/c1\n",
        ],
        [
          "ip -n c1 -force -batch -",
          "link set eth0 up\nroute add default via 198.18.1.254 dev eth0\n",
        ],
        ["tc -n np-t-a -force -batch -", "qdisc replace dev ne1 root handle 1: tbf rate 8bit\n"],
        ["ip netns exec np-t-a nft -f -", "table inet netplugin {}\n"],
      ],
    );
  });

  it("maps 'Command failed -:N' to the failed step and keeps going", async () => {
    const fake = new FakeExecutor({ stdout: "" }).on("ip -n np-t-a -force -batch -", {
      stderr: 'Error: ipv4: Address already assigned.\nCommand failed -:2\n',
      exitCode: 1,
    });
    const result = await applyPlan(fake, { steps: tenantPlan("np-t-a"), problems: [] });
    assert.equal(result.failures.length, 1);
    assert.deepEqual(result.failures[0]!.steps.map((s) => s.object), ["address 198.18.1.254/24 on nb1"]);
    assert.match(result.failures[0]!.message, /Address already assigned/);
    assert.equal(result.applied.length, 8);
    assert.equal(fake.calls.length, 6, "later invocations still ran");
  });

  it("skips the rest of a tenant whose namespace cannot be created, and applies the other tenants", async () => {
    const fake = new FakeExecutor({ stdout: "" }).on("ip netns add np-t-a", {
      stderr: 'Cannot create namespace file "/run/netns/np-t-a": Permission denied',
    });
    const result = await applyPlan(fake, { steps: [...tenantPlan("np-t-a"), ...tenantPlan("np-t-b")], problems: [] }, { concurrency: 1 });
    assert.equal(result.failures.length, 2);
    assert.ok(result.failures.every((f) => f.namespace === "np-t-a"));
    assert.equal(result.failures[1]!.steps.length, 8);
    assert.equal(result.applied.length, 9);
    assert.ok(result.applied.every((s) => s.namespace === "np-t-b"));
    assert.equal(fake.commands().filter((c) => c.includes("np-t-a")).length, 1);
  });

  it("runs conntrack deletions last, consecutive ones as one `conntrack -R -` in the namespace; its failure fails them all", async () => {
    const b = StepBuilder.of("np-t-a", { tenant: "a" });
    b.conntrack("entries 1", ["-D", "-p", "udp", "--orig-dst", "198.18.1.100"]);
    b.conntrack("entries 2", ["-D", "-p", "tcp", "--orig-dst", "198.18.1.100", "--state", "SYN_SENT"]);
    b.nft("update", "nft table", ["-f", "-"], "table inet netplugin_lb {}\n");
    b.ip("address", "delete", "address 198.18.1.101/32 on nb1", ["addr", "del", "198.18.1.101/32", "dev", "nb1"]);
    const plan: Plan = { steps: b.steps(), problems: [] };
    const ok = new FakeExecutor({ stdout: "" });
    assert.deepEqual((await applyPlan(ok, plan)).failures, []);
    assert.deepEqual(
      ok.calls.map((c) => [c.argv.join(" "), c.stdin]),
      [
        ["ip -n np-t-a -force -batch -", "addr del 198.18.1.101/32 dev nb1\n"],
        ["ip netns exec np-t-a nft -f -", "table inet netplugin_lb {}\n"],
        ["ip netns exec np-t-a sh -c cat | conntrack -R -", "-D -p udp --orig-dst 198.18.1.100\n-D -p tcp --orig-dst 198.18.1.100 --state SYN_SENT\n"],
      ],
    );
    const refused = new FakeExecutor({ stdout: "" }).on("ip netns exec np-t-a sh -c cat | conntrack -R -", { stderr: "conntrack v1.4.7 (conntrack-tools): Operation failed: Operation not permitted\n", exitCode: 1 });
    const result = await applyPlan(refused, plan);
    assert.deepEqual(result.failures.map((f) => f.steps.map((s) => s.object)), [["entries 1", "entries 2"]]);
    assert.equal(result.applied.length, 2);
  });

  it("skips the container side whose veth pair could not be made: the interface there is not ours", async () => {
    const fake = new FakeExecutor({ stdout: "" }).on("ip -n np-t-a -force -batch -", {
      stderr: "RTNETLINK answers: File exists\nCommand failed -:3\n",
      exitCode: 1,
    });
    const result = await applyPlan(fake, { steps: tenantPlan("np-t-a"), problems: [] });
    assert.deepEqual(
      result.failures.map((f) => [f.steps.map((s) => s.object), f.message]),
      [
        [["veth ne1"], 'Cannot run "ip -n np-t-a -force -batch -": exit 1: RTNETLINK answers: File exists; Command failed -:3'],
        [["interface eth0", "default route"], "Skipped 2 steps in /run/netns/c1: the veth pair into it could not be made"],
      ],
    );
    assert.ok(!fake.calls.some((c) => c.argv.includes("c1")), "nothing runs in the container's namespace");
    assert.ok(fake.calls.some((c) => c.argv[0] === "tc"), "the rest of the tenant still runs");
  });

  it("configures the container sides of many new endpoints 8 at a time, each container's runs in order", async () => {
    const b = StepBuilder.of("np-t-a", { tenant: "a" });
    const containers = Array.from({ length: 20 }, (_, n) => `/run/netns/c${n}`);
    for (const path of containers) {
      b.containerIp("container", "create", "interface eth0", path, ["link", "set", "eth0", "up"]);
      b.sysctl("sysctls", ["-w", "net.ipv6.conf.eth0.disable_ipv6=1"], { kind: "container", path });
    }
    let running = 0;
    let most = 0;
    const order = new Map<string, string[]>();
    const executor = {
      async run(argv: string[]): Promise<string> {
        // `ip -n NAME` for the ip batch, `nsenter --net=PATH` for sysctl (tools.ts containerCommand).
        const net = argv.find((a) => a.startsWith("--net="));
        const path = net ? net.slice("--net=".length) : `/run/netns/${argv[argv.indexOf("-n") + 1]}`;
        order.set(path, [...(order.get(path) ?? []), argv.includes("sysctl") ? "sysctl" : "ip"]);
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running--;
        return "";
      },
    };
    const steps = b.steps();
    const result = await applyPlan(executor, { steps, problems: [] });
    assert.deepEqual(result.failures, []);
    assert.equal(most, 8, "at most 8 containers at once, and that many when there are more");
    assert.deepEqual([...order.keys()].sort(), [...containers].sort());
    const planned = steps.filter((s) => s.target.kind === "container" && s.target.path === containers[0]).map((s) => s.tool);
    assert.equal(new Set(planned).size, 2, "two runs per container");
    for (const [path, runs] of order) assert.deepEqual(runs, planned, `${path}: its own runs in plan order`);
  });

  it("starts a new batch when the target or the tool changes", () => {
    const b = StepBuilder.of("ns", {});
    b.ip("bridge", "create", "x", ["link", "add", "a"]);
    b.containerIp("container", "create", "y", "/p", ["link", "set", "eth0", "up"]);
    b.tc("create", "q", ["qdisc", "add"]);
    b.ip("veth", "create", "z", ["link", "add", "b"]);
    const steps = b.steps(); // phase order: bridge, veth (one batch), container, qdisc
    assert.deepEqual(
      invocations(steps).map((i) => i.argv.join(" ")),
      ["ip -n ns -force -batch -", "nsenter --net=/p ip -force -batch -", "tc -n ns -force -batch -"],
    );
    const [bridge, veth, container] = steps;
    assert.deepEqual(
      invocations([bridge!, container!, veth!]).map((i) => i.argv.join(" ")),
      ["ip -n ns -force -batch -", "nsenter --net=/p ip -force -batch -", "ip -n ns -force -batch -"],
    );
  });
});
