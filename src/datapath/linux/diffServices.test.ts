// Unit tests of what diff plans as services change (diffServices.ts): the table, the VIPs, hairpin, and the
// conntrack entries of providers that left. Pure; services.kernel.test.ts sends the packets.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { DesiredHost } from "../types.js";
import { diffHost } from "./diff.js";
import { describeStep, type Step } from "./plan.js";
import { renderHost } from "./render.js";
import { appliedScripts, observedHost } from "./testing/observed.js";
import { servicesHost, withoutRemote } from "./testing/services.js";
import { endpoint, NS_A } from "../testing/desired.js";

/** The steps that delete a backend's entries: `conntrack -R -` lines, UDP one, TCP one per unestablished state. */
function deletions(vip: string, protocol: "tcp" | "udp", port: number, address: string, targetPort: number): string[] {
  const at = (a: string, p: number): string => (a.includes(":") ? `[${a}]:${p}` : `${a}:${p}`);
  const what = `${NS_A}: delete conntrack entries ${at(vip, port)}/${protocol} → ${at(address, targetPort)}`;
  const args = `conntrack[${NS_A}] -D -p ${protocol} --orig-dst ${vip} --orig-port-dst ${port} --reply-src ${address} --reply-port-src ${targetPort}`;
  if (protocol === "udp") return [`${what} | ${args}`];
  return ["SYN_SENT", "SYN_RECV"].map((state) => `${what} ${state} | ${args} --state ${state}`);
}

const TABLE = `${NS_A}: update nft table inet netplugin_lb | nft[${NS_A}] -f -`;

/** The steps from a kernel that holds `from` to `to`; `unflushed`: conntrack deletions that failed before. */
function planSteps(from: DesiredHost, to: DesiredHost, unflushed: Step[] = []): Step[] {
  const have = observedHost(renderHost(from));
  return diffHost(renderHost(to), have, { appliedNft: appliedScripts(renderHost(from)), unflushed: new Map([[NS_A, unflushed]]) }).steps;
}

const plan = (from: DesiredHost, to: DesiredHost, unflushed: Step[] = []): string[] => planSteps(from, to, unflushed).map(describeStep);

describe("diff: services", () => {
  it("plans nothing when the kernel holds the services already", () => {
    assert.deepEqual(plan(servicesHost(), servicesHost()), []);
  });

  it("replaces the table when providers change, then deletes the UDP and half-open TCP entries of the one that left", () => {
    const to = withoutRemote();
    to.tenants[0]!.services![1]!.providers.push({ endpoint: "ep2", ipv4: "198.18.1.2", ipv6: "" });
    assert.deepEqual(plan(servicesHost(), to), [
      `${NS_A}: update veth ne0000000002 | ip[${NS_A}] link set ne0000000002 type bridge_slave hairpin on`,
      TABLE,
      ...deletions("198.18.1.100", "udp", 53, "198.18.1.21", 5353),
      ...deletions("198.18.1.100", "tcp", 80, "198.18.1.21", 8080),
    ]);
  });

  it("deletes no entry when providers only come", () => {
    const to = servicesHost();
    to.tenants[0]!.services![0]!.providers.push({ endpoint: "ep2", ipv4: "198.18.1.2", ipv6: "fd00:1::2" });
    assert.deepEqual(plan(servicesHost(), to), [`${NS_A}: update veth ne0000000002 | ip[${NS_A}] link set ne0000000002 type bridge_slave hairpin on`, TABLE]);
  });

  it("a changed target port: the entries to the old one go, of each provider and family", () => {
    const to = servicesHost();
    to.tenants[0]!.services![0]!.ports[0]!.targetPort = 8081;
    assert.deepEqual(plan(servicesHost(), to), [
      TABLE,
      ...deletions("198.18.1.100", "tcp", 80, "198.18.1.1", 8080),
      ...deletions("198.18.1.100", "tcp", 80, "198.18.1.21", 8080),
      ...deletions("fd00:1::100", "tcp", 80, "fd00:1::1", 8080),
    ]);
  });

  it("moves a VIP: the old address goes, the new one comes, the table is replaced (the moved service had no provider)", () => {
    const to = servicesHost();
    to.tenants[0]!.services![1]!.vip = "198.18.2.101";
    assert.deepEqual(plan(servicesHost(), to), [
      `${NS_A}: delete address 198.18.2.100/32 on nb00000002 | ip[${NS_A}] addr del 198.18.2.100/32 dev nb00000002`,
      `${NS_A}: create address 198.18.2.101/32 on nb00000002 | ip[${NS_A}] addr add 198.18.2.101/32 dev nb00000002 noprefixroute`,
      TABLE,
    ]);
  });

  it("takes everything away with the last service: table, VIPs, hairpin, forwarding, every provider's entries (DNS interception stays)", () => {
    const to = servicesHost();
    to.tenants[0]!.services = [];
    assert.deepEqual(plan(servicesHost(), to), [
      `${NS_A}: delete address 198.18.1.100/32 on nb00000001 | ip[${NS_A}] addr del 198.18.1.100/32 dev nb00000001`,
      `${NS_A}: delete address fd00:1::100/128 on nb00000001 | ip[${NS_A}] addr del fd00:1::100/128 dev nb00000001`,
      `${NS_A}: delete address 198.18.2.100/32 on nb00000002 | ip[${NS_A}] addr del 198.18.2.100/32 dev nb00000002`,
      `${NS_A}: update sysctls net.ipv6.conf.all.forwarding | sysctl[${NS_A}] -w net.ipv6.conf.all.forwarding=0`,
      `${NS_A}: update veth ne0000000001 | ip[${NS_A}] link set ne0000000001 type bridge_slave hairpin off`,
      TABLE,
      ...deletions("198.18.1.100", "udp", 53, "198.18.1.1", 5353),
      ...deletions("198.18.1.100", "udp", 53, "198.18.1.21", 5353),
      ...deletions("198.18.1.100", "tcp", 80, "198.18.1.1", 8080),
      ...deletions("198.18.1.100", "tcp", 80, "198.18.1.21", 8080),
      ...deletions("fd00:1::100", "udp", 53, "fd00:1::1", 5353),
      ...deletions("fd00:1::100", "tcp", 80, "fd00:1::1", 8080),
    ]);
    to.tenants[0]!.networks[0]!.interceptDns = false;
    const steps = plan(servicesHost(), to);
    // Deletions run from the last phase back, yet the entries go last, after the table that made them.
    const deleted = steps.indexOf(`${NS_A}: delete nft table inet netplugin_lb | nft[${NS_A}] delete table inet netplugin_lb`);
    const first = steps.findIndex((s) => s.includes(` | conntrack[${NS_A}] `));
    assert.ok(deleted >= 0 && deleted < first, steps.join("\n"));
    assert.equal(steps.slice(first).filter((s) => s.includes(` | conntrack[${NS_A}] `)).length, 9, steps.join("\n"));
    assert.equal(steps.length - first, 9, steps.join("\n"));
  });

  it("plans a deletion that failed again, once, while its provider stays away, and not when it is back", () => {
    const failed = planSteps(servicesHost(), withoutRemote()).filter((s) => s.tool === "conntrack");
    assert.equal(failed.length, 3);
    // The table took: it is read no more (its tag is right), only the failed deletions are left to do.
    const inSync = observedHost(renderHost(withoutRemote()));
    inSync.tenants[0]!.lbBackends = null;
    const again = diffHost(renderHost(withoutRemote()), inSync, { appliedNft: appliedScripts(renderHost(withoutRemote())), unflushed: new Map([[NS_A, failed]]) });
    assert.deepEqual(again.steps.map(describeStep), failed.map(describeStep));
    // The table did not take either: the same deletions come from it, each planned once.
    assert.deepEqual(plan(servicesHost(), withoutRemote(), failed), plan(servicesHost(), withoutRemote()));
    // The provider is back: its entries are the table's again.
    assert.deepEqual(plan(servicesHost(), servicesHost(), failed), []);
  });

  it("makes a new provider's port a hairpin port when it creates the veth", () => {
    const from = servicesHost();
    const to = servicesHost();
    to.tenants[0]!.endpoints.push(endpoint(3));
    to.tenants[0]!.services![0]!.providers.push({ endpoint: "ep3", ipv4: "198.18.1.3", ipv6: "fd00:1::3" });
    const have = observedHost(renderHost(from));
    have.tenants[0]!.containers.push({ hostLink: "ne0000000003", netns: "/var/run/netns/c3", netnsMissing: false, link: null, routes: [] });
    const steps = diffHost(renderHost(to), have, { appliedNft: appliedScripts(renderHost(from)) }).steps.map(describeStep);
    assert.deepEqual(
      steps.filter((s) => s.includes("veth ne0000000003")).map((s) => s.split(" | ")[1]),
      [
        `ip[${NS_A}] link add ne0000000003 mtu 1450 type veth peer name eth0 address 02:00:00:00:00:03 mtu 1450 netns /var/run/netns/c3`,
        `ip[${NS_A}] link set ne0000000003 master nb00000001 up`,
        `ip[${NS_A}] link set ne0000000003 type bridge_slave hairpin on`,
      ],
    );
  });
});
