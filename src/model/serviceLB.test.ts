import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValidationError } from "../lib/errors.js";
import { kinds } from "./kinds.js";
import { parseSelector, parseServicePort, PORT_MESSAGE, SELECTORS_EMPTY_MESSAGE, selectorMessage } from "./serviceLB.js";
import { type Case, formatCases, nameCases, runCases } from "./testing/cases.js";

const base = {
  tenantName: "default",
  serviceName: "web",
  networkName: "net1",
  selectors: ["app=web", "tier=fe"],
  ports: ["80:8080:TCP"],
};

const cases: Case[] = [
  { name: "full body", want: { ipAddress: "", selectors: ["app=web", "tier=fe"], ports: ["80:8080:TCP"] } },
  ...nameCases("tenantName", { struct: "ServiceLB", max: 64, pattern: "NAME" }),
  ...nameCases("serviceName", { struct: "ServiceLB", max: 256, pattern: "NAME" }),
  ...nameCases("networkName", { struct: "ServiceLB", max: 64, pattern: "NAME" }),
  ...formatCases("ipAddress", ["", "10.1.1.5"], ["10.1.1", "10.1.1.5/32", "10.1.1.256"]),
  { name: "ipAddress: 16 bytes", set: { ipAddress: "1111.1111.111.11" }, error: "ipAddress string too long" },
  { name: "selectors: empty", set: { selectors: [] }, error: SELECTORS_EMPTY_MESSAGE },
  { name: "selectors: missing", unset: ["selectors"], error: SELECTORS_EMPTY_MESSAGE },
  { name: "selectors: no '='", set: { selectors: ["app"] }, error: selectorMessage("app") },
  { name: "selectors: two '='", set: { selectors: ["a=b=c"] }, error: selectorMessage("a=b=c") },
  { name: "selectors: empty key (as the original)", set: { selectors: ["=v"] } },
  {
    name: "selectors: every element is checked",
    set: { selectors: ["a=b", "x", "y"] },
    error: selectorMessage("x"),
    paths: ["selectors.1", "selectors.2"],
  },
  { name: "ports: empty", set: { ports: [] }, error: PORT_MESSAGE },
  { name: "ports: missing", unset: ["ports"], error: PORT_MESSAGE },
  { name: "ports: several, any protocol spelling", set: { ports: ["80:8080:tcp", "53:53:Udp", "443:8443:TCP"] } },
  ...["80:8080", "80:8080:TCP:x", "80:8080:sctp", "x:8080:TCP", "80::TCP", "80:0:TCP", "80:65536:udp",
    "+80:8080:TCP", "-80:8080:TCP", "80:8080:tCP", "", "::"].map((p) => ({
    name: `ports: rejects ${JSON.stringify(p)}`,
    set: { ports: [p] },
    error: PORT_MESSAGE,
  })),
  {
    name: "ports: every element is checked, not just the first",
    set: { ports: ["80:8080:TCP", "bad", "53:53:UDP", "1:2"] },
    error: PORT_MESSAGE,
    paths: ["ports.1", "ports.3"],
  },
  {
    name: "order: field rules, then empty selectors, then ports, then each selector",
    set: { tenantName: "_t", selectors: [], ports: [] },
    key: "_t:web",
    error: "tenantName string invalid format",
    paths: ["tenantName", "selectors", "ports"],
  },
  {
    name: "order: empty selectors before ports",
    set: { selectors: [], ports: ["x"] },
    error: SELECTORS_EMPTY_MESSAGE,
    paths: ["selectors", "ports.0"],
  },
  {
    name: "order: ports before selector elements",
    set: { selectors: ["bad"], ports: ["x"] },
    error: PORT_MESSAGE,
    paths: ["ports.0", "selectors.0"],
  },
];

runCases(kinds.serviceLB, base, cases);

describe("parseServicePort", () => {
  const good: Array<[string, ReturnType<typeof parseServicePort>]> = [
    ["80:8080:TCP", { svcPort: 80, provPort: 8080, protocol: "tcp" }],
    ["53:5353:udp", { svcPort: 53, provPort: 5353, protocol: "udp" }],
    ["1:65535:Tcp", { svcPort: 1, provPort: 65535, protocol: "tcp" }],
    ["8080:80:Udp", { svcPort: 8080, provPort: 80, protocol: "udp" }],
  ];
  for (const [input, want] of good) {
    it(`parses ${input}`, () => assert.deepEqual(parseServicePort(input), want));
  }
  for (const input of ["80", "80:8080", "80:8080:TCP:x", "a:80:TCP", "80:b:TCP", "0:80:TCP", "80:70000:TCP", "80:80:icmp", "80:80:", " 80:80:TCP", "1e3:80:TCP"]) {
    it(`rejects ${JSON.stringify(input)} without crashing`, () => {
      assert.throws(
        () => parseServicePort(input),
        (err: unknown) => err instanceof ValidationError && err.message === PORT_MESSAGE,
      );
    });
  }
});

describe("parseSelector", () => {
  it("splits key=value", () => assert.deepEqual(parseSelector("app=web"), { key: "app", value: "web" }));
  it("keeps an empty value", () => assert.deepEqual(parseSelector("app="), { key: "app", value: "" }));
  for (const input of ["app", "a=b=c", ""]) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      assert.throws(
        () => parseSelector(input),
        (err: unknown) => err instanceof ValidationError && err.message === selectorMessage(input),
      );
    });
  }
});
