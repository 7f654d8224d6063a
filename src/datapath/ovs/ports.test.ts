import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ProcessError } from "../../lib/process.js";
import { EndpointPorts } from "./ports.js";
import type { OvsShapers } from "./shapers-tc.js";
import type { WantedPort } from "./wanted-port.js";

/** `ovs-vsctl --format=json --columns=name,ofport,external_ids list Interface` of a bridge with two ports, and one elsewhere. */
const INTERFACES = JSON.stringify({
  headings: ["name", "ofport", "external_ids"],
  data: [
    ["ne01", 3, ["map", [["netplugin-endpoint", "blue-c1"], ["netplugin-tenant", "a"], ["netplugin-ipv4", "198.18.1.1/24"]]]],
    ["ne02", ["set", []], ["map", []]],
    ["other0", 1, ["map", []]],
  ],
});

function portsAnswering(answer: (args: string[], stdin?: string) => string): { ports: EndpointPorts; calls: string[] } {
  const calls: string[] = [];
  const run = (args: string[], stdin?: string): Promise<string> => {
    calls.push(args.join(" "));
    try {
      return Promise.resolve(answer(args, stdin));
    } catch (error) {
      return Promise.reject(error);
    }
  };
  const ports = new EndpointPorts({
    executor: { run: (argv, options) => run(argv, options?.stdin) },
    vsctl: (args) => run(["ovs-vsctl", ...args]),
    ip: (args, stdin) => run(["ip", ...args], stdin),
    datapathType: "system",
    shapers: { madeAnew: () => undefined, noopQosOf: () => Promise.resolve("qos-uuid"), forgetNoopQos: () => undefined } as unknown as OvsShapers,
  });
  return { ports, calls };
}

describe("EndpointPorts", () => {
  it("lists the bridge's ports and their interfaces with one ovs-vsctl", async () => {
    const { ports, calls } = portsAnswering(() => `ne01\nne02\n${INTERFACES}\n`);
    assert.deepEqual(await ports.list("br0"), [
      { name: "ne01", ofport: 3, endpoint: "blue-c1", role: "", tenant: "a", namespace: "", ipv4: "198.18.1.1/24" },
      { name: "ne02", ofport: -1, endpoint: "", role: "", tenant: "", namespace: "", ipv4: undefined },
    ]);
    assert.equal(calls.length, 1);
    const { ports: empty } = portsAnswering(() => `${INTERFACES}\n`);
    assert.deepEqual(await empty.list("br0"), [], "a bridge without ports prints only the table");
  });

  it("makes the veth in one ip process, past a missing half-made pair, and fails on anything else", async () => {
    const port = {
      name: "ne01",
      tenant: "a",
      vlan: 2,
      endpoint: { id: "blue-c1", mtu: 1450, ifname: "eth0", mac: "02:00:00:00:00:01", netns: "/var/run/netns/c1", containerSide: "runtime" },
    } as unknown as WantedPort;
    const failing = (lines: number[]) => (args: string[]): string => {
      if (args[0] === "ip" && lines.length > 0) {
        throw new ProcessError(args, 1, lines.map((n) => `Cannot find device "ne01"\nCommand failed -:${n}`).join("\n"));
      }
      return "";
    };
    const fresh = portsAnswering(failing([1]));
    await fresh.ports.plumb("br0", port);
    assert.deepEqual(fresh.calls.filter((c) => c.startsWith("ip")), ["ip -force -batch -"]);
    await assert.rejects(portsAnswering(failing([1, 2])).ports.plumb("br0", port), ProcessError);
  });
});
