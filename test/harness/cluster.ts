// Containers on a test cluster (src/cluster): attached through the real CNI executable, the ADD checked, and
// their namespace kept in the test's list so its after() removes it even when the test fails.

import assert from "node:assert/strict";
import type { Cluster } from "../../src/cluster/index.js";
import { TestNetns } from "./netns.js";

export interface Attached {
  ns: TestNetns;
  /** The container's IPv4 address, and its IPv6 one ("" without). */
  ip: string;
  ip6: string;
  /** The MAC of its interface. */
  mac: string;
}

interface AddOut {
  ips: { address: string }[];
  interfaces: { mac: string }[];
}

/** CNI ADD of container `name` on host `host` (1-based); `made` collects its namespace for teardown. */
export async function attach(cluster: Cluster, made: TestNetns[], host: number, name: string, config: Record<string, unknown>, cniArgs = ""): Promise<Attached> {
  const c = await cluster.addContainer(host, name, config, cniArgs);
  const ns = new TestNetns(c.namespace);
  made.push(ns);
  assert.equal(c.result.code, 0, `ADD ${name} on h${host}: ${JSON.stringify(c.result.out)}`);
  const out = c.result.out as unknown as AddOut;
  const address = (v6: boolean) => out.ips.find((i) => i.address.includes(":") === v6)?.address.split("/")[0] ?? "";
  return { ns, ip: address(false), ip6: address(true), mac: out.interfaces.find((i) => i.mac)?.mac ?? "" };
}
