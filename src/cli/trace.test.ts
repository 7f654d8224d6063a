import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import fc from "fast-check";

import { UsageError } from "./errors.js";
import { fakeNetmaster, runNetctl, type FakeNetmaster } from "./testing/fakeNetmaster.js";
import { formatTrace, parseTraceArgs, splitTo, traceQuery, type TraceReply } from "./trace.js";

const reply: TraceReply = {
  tenant: "t",
  proto: "tcp",
  from: { ip: "198.18.1.2", endpoint: "a", host: "h1", group: "client" },
  to: { ip: "198.18.1.3", port: 8080, endpoint: "b", host: "h2", group: "web" },
  service: null,
  verdict: "deny",
  hops: [
    { host: "h1", direction: "egress", verdict: "allow", rule: null, pending: false, reason: "default" },
    { host: "h2", direction: "ingress", verdict: "deny", rule: { id: "1", policy: "pw", priority: 10, action: "deny", text: "deny in from anyone, tcp/8080 (priority 10, policy pw)" }, pending: true, reason: "rule" },
  ],
};

describe("netctl trace", () => {
  let fake: FakeNetmaster;
  const netctl = (...argv: string[]) => runNetctl(argv, { NETMASTER: fake.url });
  const path = "GET /api/v1/trace?tenant=t&from=a&to=b&proto=tcp&port=8080";
  beforeEach(async () => {
    fake = await fakeNetmaster({ [path]: { json: reply } });
  });
  afterEach(() => fake.close());

  it("prints the verdict and, per host, the rule or default that decides it, and pending hosts", async () => {
    const r = await netctl("trace", "-t", "t", "--from", "a", "--to", "b:8080");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "Trace tcp 198.18.1.2 (a, group client, host h1) -> 198.18.1.3:8080 (b, group web, host h2): DENY\n" +
        "HOST  DIRECTION  VERDICT  DECIDED BY\n" +
        "h1    egress     allow    default (no rule matched)\n" +
        "h2    ingress    deny     rule pw/1: deny in from anyone, tcp/8080 (priority 10, policy pw)  [pending: the host has not applied the newest change; this is what it will decide]\n",
    );
    assert.deepEqual(fake.calls(), [path]);
  });

  it("--json prints the reply as the server sent it", async () => {
    const r = await netctl("trace", "--tenant", "t", "--from", "a", "--to", "b:8080", "--json");
    assert.equal(r.stdout, JSON.stringify(reply, null, 2) + "\n");
  });

  it("shows the server's error and exits 3", async () => {
    fake.on("GET /api/v1/trace?tenant=t&from=zz&to=b&proto=icmp", { status: 404, text: 'Cannot trace: from "zz" is no endpoint' });
    const r = await netctl("trace", "-t", "t", "--from", "zz", "--to", "b", "--proto", "icmp");
    assert.equal(r.code, 3);
    assert.equal(r.stderr, 'Error: Cannot trace: from "zz" is no endpoint\n');
  });

  for (const [argv, message] of [
    [["--to", "b:80"], /--from is required/],
    [["--from", "a"], /--to is required/],
    [["--from", "a", "--to", "b"], /--to needs a port for tcp: --to b:PORT/],
    [["--from", "a", "--to", "2001:db8::1", "--proto", "udp"], /--to needs a port for udp: --to \[2001:db8::1\]:PORT/],
    [["--from", "a", "--to", "b:0"], /Invalid port "0" in --to/],
    [["--from", "a", "--to", "b:http"], /Invalid port "http"/],
    [["--from", "a", "--to", "b:80", "--proto", "gre"], /Invalid --proto "gre": expected tcp, udp or icmp/],
    [["--from", "a", "--to", "b:80", "--proto", "icmp"], /icmp has no ports/],
    [["--from", "a b", "--to", "b:80"], /Invalid --from "a b"/],
    [["--from", "a", "--to", "b:80", "-t", "no way"], /Invalid --tenant "no way"/],
    [["--from", "a", "--to", "b:80", "--backend", ""], /--backend is required/],
    [["--from", "a", "--to", "b:80", "extra"], /More arguments than required/],
  ] as const) {
    it(`refuses ${argv.join(" ")} before any request`, async () => {
      const r = await netctl("trace", ...argv);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, message);
      assert.deepEqual(fake.calls(), []);
    });
  }
});

describe("parseTraceArgs", () => {
  it("splits ports off names, IPv4 and bracketed IPv6, and leaves bare IPv6 whole", () => {
    assert.deepEqual(splitTo("web:80"), { end: "web", port: "80" });
    assert.deepEqual(splitTo("198.18.0.1:443"), { end: "198.18.0.1", port: "443" });
    assert.deepEqual(splitTo("[2001:db8::1]:53"), { end: "2001:db8::1", port: "53" });
    assert.deepEqual(splitTo("2001:db8::1"), { end: "2001:db8::1", port: undefined });
    assert.deepEqual(splitTo("web"), { end: "web", port: undefined });
  });

  it("accepts every well-formed set of flags and sends exactly them", () => {
    const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,20}$/);
    fc.assert(
      fc.property(name, name, name, fc.constantFrom("tcp", "udp", "icmp"), fc.integer({ min: 1, max: 65535 }), fc.option(name, { nil: undefined }), (tenant, from, to, proto, port, backend) => {
        const a = parseTraceArgs({ tenant, from, to: proto === "icmp" ? to : `${to}:${port}`, proto, backend });
        assert.deepEqual(a, { tenant, from, to, proto, port: proto === "icmp" ? null : port, backend: backend ?? null });
        const q = new URLSearchParams(traceQuery(a));
        assert.deepEqual([q.get("tenant"), q.get("from"), q.get("to"), q.get("proto"), q.get("port"), q.get("backend")], [tenant, from, to, proto, proto === "icmp" ? null : String(port), backend ?? null]);
      }),
    );
  });

  it("answers any flags at all with arguments or a UsageError", () => {
    const s = fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom("a:80", "[::1]:1", "b:65536", "::1", "tcp", "icmp", ""));
    fc.assert(
      fc.property(s, s, s, s, fc.option(s, { nil: undefined }), (tenant, from, to, proto, backend) => {
        try {
          const a = parseTraceArgs({ tenant, from, to, proto, backend });
          assert.ok(a.proto === "icmp" ? a.port === null : a.port !== null && a.port >= 1 && a.port <= 65535);
        } catch (err) {
          assert.ok(err instanceof UsageError, String(err));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("prints a service's backends and whose hop is whose", () => {
    const text = formatTrace({
      ...reply,
      verdict: "allow",
      to: { ip: "198.18.1.200", port: 80, endpoint: null, host: null, group: null },
      service: { name: "websvc", vip: "198.18.1.200", port: 80, backends: [{ endpoint: "b", ip: "198.18.1.3", port: 8080, verdict: "allow" }] },
      hops: [{ host: "h2", direction: "ingress", verdict: "allow", rule: null, pending: false, backend: "b" }],
    });
    assert.equal(
      text,
      "Trace tcp 198.18.1.2 (a, group client, host h1) -> service websvc 198.18.1.200:80: ALLOW\n" +
        "  backend b 198.18.1.3:8080: allow\n" +
        "BACKEND  HOST  DIRECTION  VERDICT  DECIDED BY\n" +
        "b        h2    ingress    allow    default (no rule matched)\n",
    );
  });
});
