import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConflictError, ValidationError } from "../lib/errors.js";
import { grantPorts, normalizePorts, pickPorts, portConflict, samePorts, type PortHolder, type PortMapping } from "./ports.js";

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

describe("pickPorts", () => {
  const me = { containerId: "me", endpointId: "ep-me", tenant: "t" };
  const range = (hostPort: number, hostPortEnd: number, protocol = "tcp", containerPort = 80) => ({ protocol, hostPort, hostPortEnd, containerPort, hostIP: "" });

  it("takes a single port as asked, and a range's first port that nobody holds", () => {
    const others = [holder("a", [m(8000), m(8001)])];
    assert.deepEqual(pickPorts(me, [range(9000, 0), range(8000, 8005)], others, 4789), [m(9000), m(8002)]);
  });

  it("does not give two ranges of one container the same port for different container ports", () => {
    assert.deepEqual(pickPorts(me, [range(8000, 8003, "tcp", 80), range(8000, 8003, "tcp", 81)], [], 4789), [m(8000, 80), m(8001, 81)]);
    const on = (hostIP: string, containerPort: number) => ({ ...range(8000, 8003, "tcp", containerPort), hostIP });
    assert.deepEqual(pickPorts(me, [on("127.0.0.1", 80), on("198.18.0.1", 81)], [], 4789), [m(8000, 80, "127.0.0.1"), m(8001, 81, "198.18.0.1")], "on two addresses too");
  });

  it("skips the VXLAN port inside a UDP range, and refuses it alone", () => {
    assert.deepEqual(pickPorts(me, [range(4789, 4790, "udp")], [], 4789), [m(4790, 80, "", "udp")]);
    assert.deepEqual(pickPorts(me, [range(4789, 4790, "tcp")], [], 4789), [m(4789)]);
    assert.throws(() => pickPorts(me, [range(4789, 0, "udp")], [], 4789), (e) => e instanceof ValidationError && /VXLAN port/.test(e.message));
    assert.throws(() => pickPorts(me, [range(4789, 4789, "udp")], [], 4789), /VXLAN port/);
  });

  it("refuses a range with no free port, a taken single port, and a range that ends before it starts", () => {
    const others = [holder("a", [m(8000), m(8001)])];
    assert.throws(() => pickPorts(me, [range(8000, 8001)], others, 4789), (e) => e instanceof ConflictError && /8000-8001\/tcp: no port of the range is free/.test(e.message));
    assert.throws(() => pickPorts(me, [range(8001, 0)], others, 4789), /host port 8001\/tcp is published by container a already/);
    assert.throws(() => pickPorts(me, [range(8005, 8001)], others, 4789), (e) => e instanceof ValidationError && /the range ends before it starts/.test(e.message));
  });
});
