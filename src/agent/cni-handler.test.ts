// The CNI handler's refusals: what reaches netmaster and the state file, and what is answered instead.
// The handler is the real one; netmaster and the datapath are stand-ins (testing/fakeCniAgent.ts).

import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { after, beforeEach, describe, it } from "node:test";
import { join } from "node:path";

import type { CniRequest, CniResponse } from "../cni/wire.js";
import { startFakeCniAgent } from "./testing/fakeCniAgent.js";

const NETNS = `/proc/${process.pid}/ns/net`;
const config = { cniVersion: "1.0.0", name: "blue", type: "netplugin", network: "blue-net" };

function request(over: Partial<CniRequest> = {}): CniRequest {
  return { command: "ADD", containerId: "c1", netns: NETNS, ifname: "eth0", args: "", path: "/opt/cni/bin", config, ...over };
}

function errorOf(answer: CniResponse): { code: number; msg: string } {
  assert.ok("error" in answer, `succeeded: ${JSON.stringify(answer)}`);
  return answer.error;
}

describe("CniHandler", () => {
  const agent = startFakeCniAgent();
  const dir = join(agent.stateFile, "..", "files");
  mkdirSync(dir);
  writeFileSync(join(dir, "file"), "");
  mkdirSync(join(dir, "dir"));
  after(() => agent.close());
  beforeEach(() => agent.reset());

  /** Sends the call and checks that it was refused without a word to netmaster or the state file. */
  async function refused(req: unknown): Promise<{ code: number; msg: string }> {
    const before = agent.stateText();
    const error = errorOf(await agent.handler.handle(req));
    assert.equal(agent.master.requests.length, 0, "netmaster was asked");
    assert.equal(agent.stateText(), before, "the state file changed");
    return error;
  }

  it("adds a container in a network namespace and records it", async () => {
    const answer = await agent.handler.handle(request());
    assert.ok("result" in answer && answer.result, JSON.stringify(answer));
    assert.deepEqual(agent.attachments.all().map((a) => [a.containerId, a.ifname, a.netns, a.cniNetwork]), [["c1", "eth0", NETNS, "blue"]]);
    assert.match(agent.stateText(), /"containerId":"c1"/);
  });

  const notNamespaces: [string, () => string, string][] = [
    ["a regular file", () => join(dir, "file"), "is a regular file, not a network namespace"],
    ["a directory", () => join(dir, "dir"), "is a directory, not a network namespace"],
    ["a namespace of another kind", () => `/proc/${process.pid}/ns/mnt`, "is a mnt namespace, not a network namespace"],
  ];
  for (const [what, path, why] of notNamespaces) {
    it(`refuses ADD and CHECK in ${what} with code 4 naming CNI_NETNS`, async () => {
      assert.deepEqual(await refused(request({ netns: path() })), { code: 4, msg: `Cannot ADD: CNI_NETNS ${JSON.stringify(path())} ${why}` });
      await agent.handler.handle(request());
      const prevResult = { cniVersion: "1.0.0", interfaces: [{ name: "eth0", mac: "02:02:c6:12:00:01" }], ips: [] };
      const check = request({ command: "CHECK", netns: path(), config: { ...config, prevResult } });
      assert.deepEqual(errorOf(await agent.handler.handle(check)), { code: 4, msg: `Cannot CHECK: CNI_NETNS ${JSON.stringify(path())} ${why}` });
    });
  }

  it("refuses ADD in a namespace that does not exist with code 4, CHECK with code 3", async () => {
    const gone = join(dir, "gone");
    assert.deepEqual(await refused(request({ netns: gone })), { code: 4, msg: `Cannot ADD: CNI_NETNS "${gone}" does not exist` });
    await agent.handler.handle(request());
    const prevResult = { cniVersion: "1.0.0", interfaces: [{ name: "eth0", mac: "02:02:c6:12:00:01" }], ips: [] };
    const check = await agent.handler.handle(request({ command: "CHECK", netns: gone, config: { ...config, prevResult } }));
    assert.equal(errorOf(check).code, 3);
  });

  const delNetns: [string, () => string][] = [
    ["a vanished namespace", () => join(dir, "gone")],
    ["a regular file", () => join(dir, "file")],
    ["no namespace", () => ""],
  ];
  for (const [what, netns] of delNetns) {
    it(`deletes with ${what}, and again`, async () => {
      await agent.handler.handle(request());
      const path = netns();
      assert.deepEqual(await agent.handler.handle(request({ command: "DEL", netns: path })), { result: null });
      assert.deepEqual(agent.attachments.all(), []);
      assert.equal(agent.master.endpoints.size, 0, "the endpoint is released");
      assert.deepEqual(await agent.handler.handle(request({ command: "DEL", netns: path })), { result: null });
    });
  }

  it("takes the longest container id and interface name, and netmaster takes what it makes of them", async () => {
    const containerId = "c".repeat(240);
    const answer = await agent.handler.handle(request({ containerId, ifname: "e".repeat(15) }));
    assert.ok("result" in answer, JSON.stringify(answer));
    assert.equal(agent.master.requests[0]?.containerID, `${containerId}-${"e".repeat(15)}`);
  });

  it("refuses a longer container id with code 4 before asking netmaster", async () => {
    const { code, msg } = await refused(request({ containerId: "c".repeat(300) }));
    assert.equal(code, 4);
    assert.equal(msg, `Cannot ADD: CNI_CONTAINERID "${"c".repeat(64)}"… (300 characters) is 300 characters long: at most 240`);
  });

  it("refuses a network name of a megabyte with code 7, keeping it out of the state file", async () => {
    const { code, msg } = await refused(request({ config: { ...config, name: "n".repeat(1 << 20) } }));
    assert.equal(code, 7);
    assert.ok(msg.length < 300, msg);
  });

  it("refuses a pod name netmaster could not keep with code 6", async () => {
    assert.ok("result" in (await agent.handler.handle(request({ args: `K8S_POD_NAME=${"p".repeat(253)}` }))));
    assert.equal(agent.master.requests[0]?.containerName, "p".repeat(253));
    agent.reset();
    assert.equal((await refused(request({ args: `K8S_POD_NAME=${"p".repeat(254)}` }))).code, 6);
  });

  it("refuses an interface name ip cannot carry, with code 4 naming CNI_IFNAME", async () => {
    for (const ifname of ["eth#0", "ethé", "'eth0"]) {
      const { code, msg } = await refused(request({ ifname }));
      assert.equal(code, 4);
      assert.match(msg, /^Cannot ADD: CNI_IFNAME /);
    }
  });

  describe("delegated IPAM", () => {
    const ipamConfig = { ...config, ipam: { type: "host-local", ranges: [] } };
    const ipamResult = { cniVersion: "1.0.0", ips: [{ address: "198.18.0.77/24", gateway: "198.18.0.1" }] };

    it("registers the IPAM plugin's address, not CNI_ARGS', and names its source", async () => {
      const answer = await agent.handler.handle(request({ config: ipamConfig, ipamResult, args: "IgnoreUnknown=1;IP=198.18.0.9" }));
      assert.ok("result" in answer && answer.result, JSON.stringify(answer));
      const sent = agent.master.requests[0]!;
      assert.equal(sent.ipAddress, "198.18.0.77");
      assert.equal(sent.ipamSource, "cni:host-local");
      assert.equal((answer.result as { ips: { address: string }[] }).ips[0]!.address.split("/")[0], "198.18.0.77");
    });

    it("a config without ipam stays with netmaster's allocator", async () => {
      await agent.handler.handle(request());
      assert.equal(agent.master.requests[0]!.ipamSource, "netmaster");
    });

    it("refuses a second ADD of an attached container with keepDelegation, and a first one that fails without", async () => {
      await agent.handler.handle(request({ config: ipamConfig, ipamResult }));
      const again = await agent.handler.handle(request({ config: ipamConfig, ipamResult }));
      assert.equal(errorOf(again).code, 103);
      assert.equal((again as { keepDelegation?: boolean }).keepDelegation, true);
      const two = { ...ipamResult, ips: [...ipamResult.ips, { address: "198.18.0.78/24" }] };
      const other = await agent.handler.handle(request({ containerId: "c2", config: ipamConfig, ipamResult: two }));
      assert.match(errorOf(other).msg, /^IPAM plugin "host-local" returned 2 addresses: at most one IPv4 and one IPv6/);
      assert.equal((other as { keepDelegation?: boolean }).keepDelegation, undefined);
    });

    it("refuses an ADD of an ipam config that did not go through the executable, before asking netmaster", async () => {
      const { code, msg } = await refused(request({ config: ipamConfig }));
      assert.equal(code, 7);
      assert.match(msg, /delegates IPAM to "host-local" but the call carries no IPAM result/);
    });
  });
});
