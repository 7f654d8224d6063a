import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ValidationError } from "../lib/errors.js";
import { parseTraceQuery, TRACE_PROTOS } from "./trace-query.js";

const ok = { tenant: "t", from: "a", to: "198.18.0.2" };

describe("parseTraceQuery", () => {
  it("takes tcp with a port by default, and icmp without one", () => {
    assert.deepEqual(parseTraceQuery({ ...ok, port: "80" }), { tenant: "t", from: "a", to: "198.18.0.2", proto: "tcp", port: 80, backend: null });
    assert.deepEqual(parseTraceQuery({ ...ok, proto: "icmp" }), { tenant: "t", from: "a", to: "198.18.0.2", proto: "icmp", port: null, backend: null });
    assert.equal(parseTraceQuery({ ...ok, proto: "udp", port: "65535", backend: "web-1" }).backend, "web-1");
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{ from: "a", to: "b", port: "1" }, /tenant is required/],
    [{ ...ok, tenant: "", port: "1" }, /tenant is required/],
    [{ ...ok, tenant: "t t", port: "1" }, /tenant "t t"/],
    [{ ...ok, from: "" }, /from is required/],
    [{ tenant: "t", from: "a", port: "1" }, /to is required/],
    [{ ...ok, to: "a b", port: "1" }, /to "a b": expected an endpoint id/],
    [{ ...ok, proto: "sctp", port: "1" }, /proto "sctp": expected tcp, udp or icmp/],
    [{ ...ok, proto: "TCP", port: "1" }, /proto "TCP"/],
    [ok, /port is required for tcp/],
    [{ ...ok, proto: "udp" }, /port is required for udp/],
    [{ ...ok, port: "0" }, /port "0": expected 1..65535/],
    [{ ...ok, port: "65536" }, /port "65536"/],
    [{ ...ok, port: "-1" }, /port "-1"/],
    [{ ...ok, port: "8o" }, /port "8o"/],
    [{ ...ok, proto: "icmp", port: "1" }, /icmp has no ports/],
    [{ ...ok, port: "1", backend: "" }, /backend is required/],
    [{ ...ok, port: "1", color: "red" }, /unknown parameter "color"/],
  ];
  for (const [query, message] of bad) {
    it(`refuses ${JSON.stringify(query)}`, () => {
      assert.throws(() => parseTraceQuery(query), (err: unknown) => err instanceof ValidationError && message.test(err.message));
    });
  }

  it("accepts every well-formed query and returns what it was given", () => {
    const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,20}$/);
    fc.assert(
      fc.property(name, name, name, fc.constantFrom(...TRACE_PROTOS), fc.integer({ min: 1, max: 65535 }), (tenant, from, to, proto, port) => {
        const q = parseTraceQuery({ tenant, from, to, proto, ...(proto === "icmp" ? {} : { port: String(port) }) });
        assert.deepEqual(q, { tenant, from, to, proto, port: proto === "icmp" ? null : port, backend: null });
      }),
    );
  });

  it("answers any query at all with a result or a ValidationError, never anything else", () => {
    const value = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("tcp", "udp", "icmp", "80", "0", "65536", "t", "", " "));
    const key = fc.constantFrom("tenant", "from", "to", "proto", "port", "backend", "x", "__proto__");
    fc.assert(
      fc.property(fc.dictionary(key, value), (query) => {
        try {
          const q = parseTraceQuery(query);
          assert.ok(q.tenant !== "" && q.from !== "" && q.to !== "");
          assert.ok(q.proto === "icmp" ? q.port === null : q.port !== null && q.port >= 1 && q.port <= 65535);
        } catch (err) {
          assert.ok(err instanceof ValidationError, String(err));
          assert.match(err.message, /^Invalid query: /);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
