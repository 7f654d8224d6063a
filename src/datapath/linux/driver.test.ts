// The driver through the interface the agent uses (../driver.ts), on a stand-in for a host that has none of
// our objects yet: what a failed step reports (the unit it is for), and the rule counters.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ProcessError, spawnedArgv, type Executor, type RunOptions } from "../../lib/process.js";
import { compilePolicy, RULE_COUNTERS_ARGVS, type PolicyInput } from "../../policy/index.js";
import type { DatapathDriver } from "../driver.js";
import type { DesiredHost } from "../types.js";
import { LinuxDatapath } from "./driver.js";
import { renderHost } from "./render.js";
import { dnatRule, servicesHost, servicesMap, withoutRemote } from "./testing/services.js";
import { clusterHost, NS_A } from "../testing/desired.js";

/**
 * A host with nothing of ours on it but the namespaces made on it. Reads find nothing; a step fails when its
 * batch line (or its command, or the script it sends) matches `fail`, and a batch reports that line as ip
 * does. `answer` overrides any call.
 */
class EmptyHost implements Executor {
  fail: RegExp[] = [];
  answer: (text: string, stdin: string) => string | undefined = () => undefined;
  readonly namespaces = new Set<string>();
  /** The driver's NamespaceLister on this host. */
  readonly list = (): Promise<string[]> => Promise.resolve([...this.namespaces]);

  async run(argv: string[], options: RunOptions = {}): Promise<string> {
    const full = spawnedArgv(argv, options.netns);
    const text = full.join(" ");
    const stdin = options.stdin ?? "";
    const answered = this.answer(text, stdin);
    if (answered !== undefined) return answered;
    if (this.fail.some((f) => f.test(text))) throw new ProcessError(full, 1, "Error: refused.");
    if (full.includes("-batch")) {
      const lines = stdin.split("\n").slice(0, -1);
      if (full.includes("-json")) return lines.map(() => "[]\n").join("");
      const failed = lines.flatMap((line, i) => (this.fail.some((f) => f.test(line)) ? [i + 1] : []));
      if (failed.length > 0) throw new ProcessError(full, 1, failed.map((n) => `Error: refused.\nCommand failed -:${n}\n`).join(""));
      return "";
    }
    if (this.fail.some((f) => f.test(stdin))) throw new ProcessError(full, 1, "Error: refused.");
    const [, verb, namespace] = /^ip netns (add|del) (\S+)$/.exec(text) ?? [];
    if (verb === "add") this.namespaces.add(namespace!);
    if (verb === "del") this.namespaces.delete(namespace!);
    if (/ nft list table /.test(` ${text} `)) throw new ProcessError(full, 1, "Error: No such file or directory");
    if (text.endsWith("nft -j list tables")) return JSON.stringify({ nftables: [] });
    return text.includes(" -json ") ? "[]" : "";
  }
}

function onHost(kernel: EmptyHost): LinuxDatapath {
  return new LinuxDatapath(kernel, { namespaces: kernel.list });
}

/** clusterHost() with a host port published to ep1. */
function host(): DesiredHost {
  const desired = clusterHost();
  desired.tenants[0]!.endpoints[0]!.portMappings = [{ protocol: "tcp", hostPort: 8080, containerPort: 80, hostIP: "" }];
  return desired;
}

async function errorsWhen(fail: RegExp): Promise<{ owner: unknown; objects: string[] }[]> {
  const kernel = new EmptyHost();
  kernel.fail = [fail];
  const driver: DatapathDriver = onHost(kernel);
  const { errors } = await driver.reconcile(host(), { full: false });
  return errors.map((e) => ({ owner: e.owner, objects: e.objects }));
}

describe("LinuxDatapath: errors name the unit they concern", () => {
  it("applies a host it can make without errors", async () => {
    assert.deepEqual(await errorsWhen(/^never$/), []);
  });

  it("an endpoint's veth: that endpoint", async () => {
    // Its container side is not configured without the pair (apply.ts): that is the endpoint's too.
    assert.deepEqual(await errorsWhen(/^link add ne0000000001 /), [
      { owner: { tenant: "a", network: "blue", endpoint: "ep1" }, objects: ["veth ne0000000001"] },
      {
        owner: { tenant: "a", network: "blue", endpoint: "ep1" },
        objects: [
          "interface eth0 in /var/run/netns/c1",
          "address 198.18.1.1/24 on eth0 in /var/run/netns/c1",
          "address fd00:1::1/64 on eth0 in /var/run/netns/c1",
          "default route via 198.18.1.254 on eth0 in /var/run/netns/c1",
          "default route via fd00:1::fe on eth0 in /var/run/netns/c1",
        ],
      },
    ]);
  });

  it("a network's bridge: that network", async () => {
    assert.deepEqual(await errorsWhen(/^link add nb00000001 /), [{ owner: { tenant: "a", network: "blue" }, objects: ["bridge nb00000001"] }]);
  });

  it("a remote endpoint's FDB entry: that endpoint, of its network", async () => {
    assert.deepEqual(await errorsWhen(/^fdb replace 02:00:00:00:02:01 .* self /), [
      { owner: { tenant: "a", network: "blue", endpoint: "net1.blue-21" }, objects: ["remote 02:00:00:00:02:01 on nv100"] },
    ]);
  });

  it("the tenant's uplink NAT table, which carries its published ports: the tenant's ports", async () => {
    assert.deepEqual(await errorsWhen(/^table ip netplugin_nat \{/m), [{ owner: { tenant: "a", ports: true }, objects: ["nft table ip netplugin_nat"] }]);
  });

  it("the agent namespace's table, which carries every tenant's published ports: the ports of all", async () => {
    assert.deepEqual(await errorsWhen(/^table inet netplugin_npu0 \{/m), [{ owner: { ports: true }, objects: ["nft table inet netplugin_npu0"] }]);
  });

  it("the tenant's policy table: the tenant", async () => {
    assert.deepEqual(await errorsWhen(/^table inet netplugin \{/m), [{ owner: { tenant: "a" }, objects: ["nft table inet netplugin"] }]);
  });

  it("one failed batch with lines of several units: one error per unit", async () => {
    const errors = await errorsWhen(/^link add (ne0000000001|ne0000000002|nb00000001) /);
    // Then the container sides left without their pairs, one error each (apply.ts).
    assert.deepEqual(errors.map((e) => [e.owner, e.objects.every((o) => o.endsWith("/var/run/netns/c1") || o.endsWith("/var/run/netns/c2"))]), [
      [{ tenant: "a", network: "blue" }, false],
      [{ tenant: "a", network: "blue", endpoint: "ep1" }, false],
      [{ tenant: "a", network: "blue", endpoint: "ep2" }, false],
      [{ tenant: "a", network: "blue", endpoint: "ep1" }, true],
      [{ tenant: "a", network: "blue", endpoint: "ep2" }, true],
    ]);
  });

  it("a namespace that cannot be read: its tenant; a container namespace that is gone: its endpoint", async () => {
    const kernel = new EmptyHost();
    kernel.namespaces.add(NS_A);
    kernel.fail = [new RegExp(`^ip -n ${NS_A} -json -d -batch -$`)];
    const driver = onHost(kernel);
    assert.deepEqual(
      (await driver.reconcile(host(), { full: false })).errors.map((e) => [e.owner, e.objects]),
      [[{ tenant: "a" }, []]],
    );

    const gone = new EmptyHost();
    gone.answer = (text) => {
      if (text.startsWith("ip -n c2 ")) throw new ProcessError(text.split(" "), 1, 'Cannot open network namespace "c2": No such file or directory');
      return undefined;
    };
    const errors = (await onHost(gone).reconcile(host(), { full: false })).errors;
    assert.deepEqual(errors.map((e) => [e.owner, e.objects]), [[{ tenant: "a", network: "blue", endpoint: "ep2" }, ["endpoint ep2"]]]);
  });

  it("a policy that does not compile is a problem of its tenant, found by check", () => {
    const desired = host();
    desired.tenants[0]!.policy.rules.push({ key: "a:p:1", groupId: 1, direction: "in", priority: Number.NaN, action: "deny" });
    const driver: DatapathDriver = onHost(new EmptyHost());
    assert.deepEqual(driver.check(desired), [{ owner: { tenant: "a" }, message: "policy.rules[0].priority: invalid priority NaN" }]);
  });

  it("an SDN controller is named as not applied, and holds up nothing: check finds no problem and the host is made", async () => {
    const kernel = new EmptyHost();
    const driver: DatapathDriver = onHost(kernel);
    const desired = { ...host(), host: { ...host().host, sdnController: "tcp:192.0.2.7:6653" } };
    assert.deepEqual(driver.unapplied?.(desired), [{ owner: {}, message: 'sdnController "tcp:192.0.2.7:6653" is not applied: the linux datapath cannot use an SDN controller' }]);
    assert.deepEqual(driver.check(desired), []);
    assert.deepEqual((await driver.reconcile(desired, { full: false })).errors, []);
    assert.deepEqual(driver.unapplied?.(host()), [], "none set: nothing to say");
  });
});

/** The policy of tenant a: group 1 (ep1) denies TCP from anywhere, allows port 80. */
function policy(extra = false): PolicyInput {
  return {
    fwdMode: "routing",
    networks: [],
    groups: [{ id: 1, name: "web", ipv4: ["198.18.1.1"], ipv6: [], dscp: 0 }],
    rules: [
      { key: "a:p:deny", groupId: 1, direction: "in", priority: 1, action: "deny", protocol: 6 },
      { key: "a:p:http", groupId: 1, direction: "in", priority: 10, action: "allow", protocol: 6, port: 80 },
      ...(extra ? [{ key: "a:p:dns", groupId: 1, direction: "in" as const, priority: 10, action: "allow" as const, protocol: 17, port: 53 }] : []),
    ],
  };
}

/** What `nft -j -n list map inet netplugin NAME` prints of each judge map for `input`, with every element of a rule at `counts[rule]`. */
function nftCounters(input: PolicyInput, counts: Record<string, number>): Map<string, string> {
  const maps = new Map<string, unknown[]>(RULE_COUNTERS_ARGVS.map((argv) => [argv.at(-1)!, []]));
  for (const [id, rule] of compilePolicy(input).elementRules) {
    const [name, key] = id.split(":") as [string, string];
    const parts = key.split(".").map(Number);
    const packets = counts[rule] ?? 0;
    const elem = { elem: { val: parts.length === 1 ? parts[0] : { concat: parts }, counter: { packets, bytes: packets * 100 } } };
    maps.get(name)!.push([elem, { accept: null }]);
  }
  return new Map([...maps].map(([name, elem]) => [name, JSON.stringify({ nftables: [{ map: { family: "inet", table: "netplugin", name, elem } }] })]));
}

/** The answer to a judge map's listing in NS_A, from `maps` (or the one text for all). */
function mapListing(text: string, maps: Map<string, string> | string): string | undefined {
  const listed = new RegExp(`^ip netns exec ${NS_A} nft -j -n list map inet netplugin (\\w+)$`).exec(text);
  if (listed === null) return undefined;
  return typeof maps === "string" ? maps : maps.get(listed[1]!);
}

describe("LinuxDatapath: rule counters", () => {
  it("reads every tenant's counters by rule key, as running totals across policy reloads", async () => {
    const kernel = new EmptyHost();
    let table: Map<string, string> | string = nftCounters(policy(), { "a:p:deny": 3, "a:p:http": 5 });
    kernel.answer = (text) => mapListing(text, table);
    const driver: DatapathDriver = onHost(kernel);
    const desired = host();
    desired.tenants[0]!.policy = policy();
    assert.deepEqual(await driver.counters!(), {}, "nothing before the first reconcile");
    assert.deepEqual((await driver.reconcile(desired, { full: false })).errors, []);

    assert.deepEqual(await driver.counters!(), { "a:p:deny": { packets: 3, bytes: 300 }, "a:p:http": { packets: 5, bytes: 500 } });
    table = nftCounters(policy(), { "a:p:deny": 4, "a:p:http": 5 });
    assert.deepEqual((await driver.counters!())["a:p:deny"], { packets: 4, bytes: 400 });

    // A new policy replaces the table: its counters start again, the totals go on.
    desired.tenants[0]!.policy = policy(true);
    assert.deepEqual((await driver.reconcile(desired, { full: false })).errors, []);
    table = nftCounters(policy(true), { "a:p:deny": 6, "a:p:http": 1 });
    assert.deepEqual(await driver.counters!(), {
      "a:p:deny": { packets: 10, bytes: 1000 },
      "a:p:dns": { packets: 0, bytes: 0 },
      "a:p:http": { packets: 6, bytes: 600 },
    });

    // A table that cannot be read keeps its totals.
    table = "not json";
    assert.deepEqual((await driver.counters!())["a:p:deny"], { packets: 10, bytes: 1000 });
  });

  it("reads a table with the policy it holds while a new script has not taken", async () => {
    const kernel = new EmptyHost();
    const refused = compilePolicy(policy(true)).script;
    kernel.answer = (text, stdin) => {
      if (stdin === refused) throw new ProcessError(text.split(" "), 1, "Error: Could not process rule: No space left on device");
      return mapListing(text, nftCounters(policy(), { "a:p:http": 2 }));
    };
    const driver = onHost(kernel);
    const desired = host();
    desired.tenants[0]!.policy = policy();
    assert.deepEqual((await driver.reconcile(desired, { full: false })).errors, []);
    desired.tenants[0]!.policy = policy(true);
    const { errors } = await driver.reconcile(desired, { full: false });
    assert.deepEqual(errors.map((e) => e.objects), [["nft table inet netplugin"]]);
    const totals = await driver.counters();
    assert.deepEqual(Object.keys(totals).sort(), ["a:p:deny", "a:p:http"], "the rules of the table in force, not of the one that failed");
    assert.deepEqual(totals["a:p:http"], { packets: 2, bytes: 200 });
  });
});

describe("LinuxDatapath: conntrack entries of providers that left", () => {
  const lbTag = (desired: DesiredHost): string => renderHost(desired).tenants[0]!.lbTable!.tag;
  /** What `nft -j list table inet netplugin_lb` finds: web's TCP port 80 on both of its IPv4 providers. */
  const LB_JSON = JSON.stringify({
    nftables: [servicesMap(4, [["198.18.1.100", "tcp", 80, "svc1_tcp_80"]]), dnatRule("svc1_tcp_80", 4, "tcp", [["198.18.1.1", 8080], ["198.18.1.21", 8080]])],
  });
  const LEFT = "-D -p tcp --orig-dst 198.18.1.100 --orig-port-dst 80 --reply-src 198.18.1.21 --reply-port-src 8080";

  /** A tenant namespace whose services table carries `kernel.tag`; `conntrack -R -` records its lines, or fails while `refuse`. */
  function servicesKernel(): { kernel: EmptyHost; state: { tag: string; refuse: boolean; conntrack: string[] } } {
    const kernel = new EmptyHost();
    kernel.namespaces.add(NS_A);
    const state = { tag: lbTag(servicesHost()), refuse: false, conntrack: [] as string[] };
    kernel.answer = (text, stdin) => {
      if (text === `ip netns exec ${NS_A} nft -j list tables`) return JSON.stringify({ nftables: [{ table: { family: "inet", name: "netplugin_lb" } }] });
      if (text === `ip netns exec ${NS_A} nft list table inet netplugin_lb`) return `table inet netplugin_lb {\n\tcomment "netplugin:${state.tag}"\n}\n`;
      if (text === `ip netns exec ${NS_A} nft -j list table inet netplugin_lb`) return LB_JSON;
      if (text !== `ip netns exec ${NS_A} sh -c cat | conntrack -R -`) return undefined;
      state.conntrack.push(stdin);
      if (state.refuse) throw new ProcessError(text.split(" "), 1, "conntrack v1.4.7 (conntrack-tools): Operation failed: Operation not permitted");
      return "";
    };
    return { kernel, state };
  }

  it("deletes them after the table changed; a deletion that failed is made again on the next run, until it takes", async () => {
    const { kernel, state } = servicesKernel();
    const driver = onHost(kernel);
    state.refuse = true;
    const { errors } = await driver.reconcile(withoutRemote(), { full: false });
    assert.deepEqual(errors.map((e) => [e.owner, e.objects]), [
      [{ tenant: "a" }, ["conntrack entries 198.18.1.100:80/tcp → 198.18.1.21:8080 SYN_SENT", "conntrack entries 198.18.1.100:80/tcp → 198.18.1.21:8080 SYN_RECV"]],
    ]);
    // The table took: it no longer tells what left, the driver does.
    state.tag = lbTag(withoutRemote());
    state.refuse = false;
    assert.deepEqual((await driver.reconcile(withoutRemote(), { full: false })).errors, []);
    const lines = `${LEFT} --state SYN_SENT\n${LEFT} --state SYN_RECV\n`;
    assert.deepEqual(state.conntrack, [lines, lines]);
    await driver.reconcile(withoutRemote(), { full: true });
    assert.equal(state.conntrack.length, 2, "nothing left to delete");
  });

  it("forgets a deletion that failed when the provider is back", async () => {
    const { kernel, state } = servicesKernel();
    const driver = onHost(kernel);
    state.refuse = true;
    assert.equal((await driver.reconcile(withoutRemote(), { full: false })).errors.length, 1);
    state.refuse = false;
    assert.deepEqual((await driver.reconcile(servicesHost(), { full: false })).errors, []);
    assert.equal(state.conntrack.length, 1);
  });
});
