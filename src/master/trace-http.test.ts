// GET /api/v1/trace through netmaster's HTTP surface, in process on a real SQLite store: the response shape
// the web UI reads, pending hosts from the agents' realization reports, and the errors' statuses.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { readEpochs } from "./epochs.js";
import { InProcessNetmaster, TEST_ADMIN_PASSWORD } from "./testing/in-process.js";

describe("GET /api/v1/trace", () => {
  let nm: InProcessNetmaster;
  let admin: string;
  const ids: Record<string, string> = {};
  const get = (query: string, token = admin) => nm.call({ method: "GET", path: `/api/v1/trace?${query}` }, token);

  before(async () => {
    nm = await InProcessNetmaster.start();
    admin = await nm.login("admin", TEST_ADMIN_PASSWORD);
    const post = (path: string, body: unknown) => nm.must({ method: "POST", path, body }, admin);
    await post("/api/v1/tenants/t/", { tenantName: "t" });
    await post("/api/v1/networks/t:net/", { tenantName: "t", networkName: "net", encap: "vxlan", subnet: "198.18.20.0/24" });
    await post("/api/v1/policys/t:web/", { tenantName: "t", policyName: "web" });
    await post("/api/v1/endpointGroups/t:web/", { tenantName: "t", groupName: "web", networkName: "net", policies: ["web"] });
    await post("/api/v1/endpointGroups/t:client/", { tenantName: "t", groupName: "client", networkName: "net" });
    for (const [host, name, group] of [["h1", "a", "client"], ["h2", "b", "web"]] as const) {
      await nm.must({ method: "PUT", path: `/api/v1/agent/hosts/${host}/`, body: { vtepIP: `198.18.0.${host.slice(1)}`, mtu: 1500 } }, admin);
      const r = await post("/api/v1/agent/endpoints/", { tenantName: "t", networkName: "net", groupName: group, containerID: name, host });
      ids[name] = (r.body as { endpoint: { endpointID: string } }).endpoint.endpointID;
    }
    await post("/api/v1/rules/t:web:1/", { tenantName: "t", policyName: "web", ruleId: "1", direction: "in", protocol: "tcp", port: 8080, action: "deny", priority: 10 });
  });
  after(() => nm?.stop());

  it("answers the shape the UI reads, each host pending until its agent reports the newest revision", async () => {
    const r = await get(`tenant=t&from=${ids["a"]}&to=${ids["b"]}&proto=tcp&port=8080`);
    assert.equal(r.status, 200, r.text);
    const body = r.body as Record<string, unknown> & { hops: { host: string; direction: string; verdict: string; pending: boolean; rule: { id: string } | null }[]; revision: number };
    for (const field of ["tenant", "proto", "from", "to", "service", "verdict", "hops"]) assert.ok(field in body, field);
    assert.equal(body["verdict"], "deny");
    assert.deepEqual(body.hops.map((h) => [h.host, h.direction, h.verdict, h.pending, h.rule?.id ?? null]), [["h1", "egress", "allow", true, null], ["h2", "ingress", "deny", true, "1"]]);
    const epoch = (await readEpochs(nm.store))[0]?.epoch;
    await nm.must({ method: "PUT", path: "/api/v1/agent/hosts/h2/realized", body: { revision: body.revision, epoch: epoch!, failures: [] } }, admin);
    const again = (await get(`tenant=t&from=${ids["a"]}&to=${ids["b"]}&proto=tcp&port=8080`)).body as typeof body;
    assert.deepEqual(again.hops.map((h) => [h.host, h.pending]), [["h1", true], ["h2", false]]);
  });

  it("answers any query with 200, 400 or 404 and a message, never a 5xx", async () => {
    const value = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom("t", "tcp", "udp", "icmp", "80", "0", "99999", "198.18.20.1", "198.18.20.2", "::1", "[::1]", "/a", "%00", ""),
      fc.constant(""),
    );
    const key = fc.constantFrom("tenant", "from", "to", "proto", "port", "backend", "junk");
    await fc.assert(
      fc.asyncProperty(fc.dictionary(key, value, { maxKeys: 7 }), fc.boolean(), async (query, realEnds) => {
        if (realEnds) Object.assign(query, { tenant: "t", from: ids["a"]!, to: ids["b"]! });
        const r = await get(new URLSearchParams(query).toString());
        assert.ok([200, 400, 404].includes(r.status), `${JSON.stringify(query)}: ${r.status} ${r.text}`);
        if (r.status !== 200) assert.match(r.text, /^(Invalid query|Cannot trace): /);
      }),
      { numRuns: 300 },
    );
  });

  it("refuses bad queries with 400, unknown ends with 404, other tenants' ops with 403", async () => {
    const bad = await get(`tenant=t&from=${ids["a"]}&to=${ids["b"]}&proto=sctp&port=1`);
    assert.deepEqual([bad.status, bad.text], [400, 'Invalid query: proto "sctp": expected tcp, udp or icmp']);
    const noPort = await get(`tenant=t&from=${ids["a"]}&to=${ids["b"]}`);
    assert.deepEqual([noPort.status, noPort.text], [400, "Invalid query: port is required for tcp"]);
    const unknown = await get(`tenant=t&from=ghost&to=${ids["b"]}&port=1`);
    assert.deepEqual([unknown.status, unknown.text], [404, 'Cannot trace: from "ghost" is no endpoint id, container name or address of tenant t']);
    assert.equal((await get("tenant=nope&from=a&to=b&port=1")).status, 404);
    await nm.must({ method: "POST", path: "/api/v1/tenants/u/", body: { tenantName: "u" } }, admin);
    await nm.must({ method: "POST", path: "/api/v1/auth_proxy/local_users/", body: { username: "opsu", password: "opsu-password" } }, admin);
    await nm.must({ method: "POST", path: "/api/v1/auth_proxy/authorizations/", body: { principalName: "opsu", local: true, role: "ops", tenantName: "u" } }, admin);
    const ops = await nm.login("opsu", "opsu-password");
    const refused = await get(`tenant=t&from=${ids["a"]}&to=${ids["b"]}&port=8080`, ops);
    assert.equal(refused.status, 403, refused.text);
    assert.equal((await get("tenant=u&from=x&to=y&port=1", ops)).status, 404, "its own tenant: allowed, and x is unknown");
  });
});
