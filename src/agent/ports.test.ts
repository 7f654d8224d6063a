import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValidationError } from "../lib/errors.js";
import { grantPorts, normalizePorts, portConflict, samePorts, type PortHolder, type PortMapping } from "./ports.js";

const m = (hostPort: number, containerPort = 80, hostIP = "", protocol: PortMapping["protocol"] = "tcp"): PortMapping => ({ protocol, hostPort, containerPort, hostIP });
const holder = (containerId: string, portMappings: PortMapping[], tenant = "t"): PortHolder => ({ containerId, endpointId: `ep-${containerId}`, tenant, portMappings });

describe("normalizePorts", () => {
  it("takes every host address as \"\", drops exact repeats, keeps one port on several addresses", () => {
    assert.deepEqual(
      normalizePorts(
        [
          { protocol: "tcp", hostPort: 8080, containerPort: 80 },
          { protocol: "tcp", hostPort: 8080, containerPort: 80, hostIP: "0.0.0.0" },
          { protocol: "tcp", hostPort: 8080, containerPort: 80, hostIP: "127.0.0.1" },
          { protocol: "udp", hostPort: 8080, containerPort: 80, hostIP: "" },
        ],
        4789,
      ),
      [m(8080), m(8080, 80, "127.0.0.1"), m(8080, 80, "", "udp")],
    );
  });

  const bad: [string, Parameters<typeof normalizePorts>[0], RegExp][] = [
    ["an IPv6 host address", [{ protocol: "tcp", hostPort: 80, containerPort: 80, hostIP: "::" }], /IPv6 host addresses are not supported/],
    ["a name for an address", [{ protocol: "tcp", hostPort: 80, containerPort: 80, hostIP: "localhost" }], /"localhost" is not an IPv4 address/],
    ["port 0", [{ protocol: "tcp", hostPort: 0, containerPort: 80 }], /hostPort/],
    ["icmp", [{ protocol: "icmp", hostPort: 80, containerPort: 80 }], /protocol/],
    ["the VXLAN port", [{ protocol: "udp", hostPort: 4789, containerPort: 80 }], /VXLAN port/],
    [
      "one host port to two container ports",
      [{ protocol: "tcp", hostPort: 80, containerPort: 80 }, { protocol: "tcp", hostPort: 80, containerPort: 81, hostIP: "127.0.0.1" }],
      /mapped to two container ports/,
    ],
  ];
  for (const [name, input, message] of bad) {
    it(`refuses ${name}`, () => {
      assert.throws(() => normalizePorts(input, 4789), (e: unknown) => e instanceof ValidationError && message.test(e.message) && e.message.startsWith("Cannot publish host port"));
    });
  }
});

describe("portConflict", () => {
  it("refuses a port taken on an overlapping address, whatever the tenant", () => {
    assert.match(portConflict(holder("b", [m(8080)], "u"), [holder("a", [m(8080, 80, "127.0.0.1")])])!, /8080\/tcp is published by container a/);
    assert.match(portConflict(holder("b", [m(8080, 80, "127.0.0.1")], "u"), [holder("a", [m(8080)])])!, /container a/);
  });

  it("allows one port on two addresses in two tenants, not in one (the tenant sees only the port)", () => {
    assert.equal(portConflict(holder("b", [m(8080, 80, "198.18.0.11")], "u"), [holder("a", [m(8080, 80, "127.0.0.1")])]), undefined);
    assert.match(portConflict(holder("b", [m(8080, 80, "198.18.0.11")]), [holder("a", [m(8080, 80, "127.0.0.1")])])!, /one target per host port/);
  });

  it("never between interfaces of one container, nor across protocols or ports", () => {
    assert.equal(portConflict(holder("a", [m(8080)]), [holder("a", [m(8080)])]), undefined);
    assert.equal(portConflict(holder("b", [m(8080, 80, "", "udp"), m(8081)]), [holder("a", [m(8080)])]), undefined);
  });
});

describe("grantPorts", () => {
  it("gives a clashing mapping to the first holder only, and keeps the rest of the second's", () => {
    const granted = grantPorts([holder("a", [m(8080)]), holder("b", [m(8080), m(9090)]), holder("c", [])], 4789);
    assert.deepEqual([...granted], [["ep-a", [m(8080)]], ["ep-b", [m(9090)]], ["ep-c", []]]);
  });

  it("leaves out what admission would refuse (state files edited by hand): a bad host address, the VXLAN port", () => {
    const granted = grantPorts([holder("a", [m(8080, 80, "not-an-ip"), m(4789, 80, "", "udp"), m(9090)])], 4789);
    assert.deepEqual([...granted], [["ep-a", [m(9090)]]]);
  });
});

describe("samePorts", () => {
  it("ignores order", () => {
    assert.ok(samePorts([m(1), m(2)], [m(2), m(1)]));
    assert.ok(!samePorts([m(1)], [m(1, 81)]));
  });
});
