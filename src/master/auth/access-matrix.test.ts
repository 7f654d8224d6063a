// Every route of netmaster against every kind of caller: no token, a malformed, expired or revoked one, an
// ops user of another tenant, another host's agent credential. Each is refused with 401 or 403 and leaves
// the store as it was; admins, ops within their tenant and hosts on their own records get through. Also
// the attacks the access rules exist for: moving another host's VTEP, deleting its endpoints, a cross-site
// POST, a rebinding Host header, reading the raw state. In process, on a real SQLite store.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AUTH_PREFIX, AUTH_SECRETS_KEY, ROOT } from "../../contract/keys.js";
import { declaredRoutes } from "../http.js";
import { InProcessNetmaster, TEST_ADMIN_PASSWORD as ADMIN_PASSWORD, TEST_HOST as HOST, type Call, type Reply } from "../testing/in-process.js";
import { open, anyPrincipal, objectList } from "./access.js";
import type { AuthSecrets } from "./records.js";
import { TokenSigner } from "./tokens.js";

/**
 * The concrete request each route is tried with: aimed at tenant A and host h1. `opsOther` and `hostOther`
 * say what tenant B's ops user and host h2 get: "refused" (403) or "allowed".
 */
interface Case extends Call {
  opsOther: "refused" | "allowed";
  hostOther: "refused" | "allowed";
  /** Allowed for ops of tenant A (tenant routes), for host h1 (its own records). */
  opsOwn: boolean;
  hostOwn: boolean;
}

describe("who may call what", () => {
  let nm: InProcessNetmaster;
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};
  const call = (c: Call, token?: string, headers?: Record<string, string>) => nm.call(c, token, headers);
  const must = (c: Call, token: string) => nm.must(c, token);
  const login = (username: string, password: string) => nm.login(username, password);
  const joinHost = async (host: string) =>
    ((await must({ method: "POST", path: "/api/v1/agent/join/", body: { host, joinToken: ids["joinToken"] } }, "")).body as { credential: string }).credential;
  const store = () => nm.store;
  const snapshot = async () => JSON.stringify((await store().list(ROOT)).items.map((kv) => [kv.key, kv.modRevision]));

  before(async () => {
    nm = await InProcessNetmaster.start();
    const admin = (tokens["admin"] = await login("admin", ADMIN_PASSWORD));
    ids["joinToken"] = (JSON.parse((await store().get(AUTH_SECRETS_KEY))!.value) as AuthSecrets).joinToken;
    for (const t of ["A", "B"]) {
      await must({ method: "POST", path: `/api/v1/tenants/${t}/`, body: { tenantName: t } }, admin);
      await must({ method: "POST", path: `/api/v1/networks/${t}:net/`, body: { tenantName: t, networkName: "net", encap: "vxlan", subnet: `198.18.${t === "A" ? 10 : 11}.0/24` } }, admin);
    }
    for (const [user, tenant] of [["opsA", "A"], ["opsB", "B"], ["gone", "A"], ["victim", "A"]] as const) {
      await must({ method: "POST", path: "/api/v1/auth_proxy/local_users/", body: { username: user, password: `${user}-password` } }, admin);
      const a = await must({ method: "POST", path: "/api/v1/auth_proxy/authorizations/", body: { principalName: user, local: true, role: "ops", tenantName: tenant } }, admin);
      ids[`authz-${user}`] = (a.body as { AuthzUUID: string }).AuthzUUID;
      tokens[user] = await login(user, `${user}-password`);
    }
    await must({ method: "DELETE", path: "/api/v1/auth_proxy/local_users/gone/" }, admin);
    const spare = await must({ method: "POST", path: "/api/v1/auth_proxy/authorizations/", body: { principalName: "cn=spare,dc=test", local: false, role: "ops", tenantName: "B" } }, admin);
    ids["spare-authz"] = (spare.body as { AuthzUUID: string }).AuthzUUID;
    for (const host of ["h1", "h2", "h3", "h4"]) {
      tokens[host] = await joinHost(host);
      await must({ method: "PUT", path: `/api/v1/agent/hosts/${host}/`, body: { vtepIP: `198.18.0.${host.slice(1)}`, mtu: 1500 } }, tokens[host]!);
    }
    await must({ method: "DELETE", path: "/api/v1/agent/hosts/h3/?force=true" }, admin);
    const ep = (containerID: string) => ({ method: "POST", path: "/api/v1/agent/endpoints/", body: { tenantName: "A", networkName: "net", containerID, host: "h1" } });
    const endpointId = (r: Reply) => (r.body as { endpoint: { endpointID: string } }).endpoint.endpointID;
    ids["ep1"] = endpointId(await must(ep("c1"), tokens["h1"]!));
    ids["ep2"] = endpointId(await must(ep("c2"), tokens["h1"]!));
    const dockerEp = { method: "POST", path: "/api/v1/agent/docker/endpoints/", body: { tenantName: "A", networkName: "net", containerID: "d1", host: "h1" } };
    ids["dep1"] = endpointId(await must(dockerEp, tokens["h1"]!));
    ids["pool1"] = ((await must({ method: "POST", path: "/api/v1/agent/docker/pools/", body: { host: "h1" } }, tokens["h1"]!)).body as { poolId: string }).poolId;
    await must({ method: "POST", path: "/api/v1/agent/docker/networks/", body: { host: "h1", name: "dnet", tenant: "A", subnet: "198.18.12.0/24" } }, tokens["h1"]!);
    const block = await must({ method: "POST", path: "/api/v1/agent/blocks/", body: { tenantName: "A", networkName: "net", host: "h1" } }, tokens["h1"]!);
    ids["block1"] = (block.body as { block: { cidr: string } }).block.cidr.replace("/", "_");
    const { signingKey } = JSON.parse((await store().get(AUTH_SECRETS_KEY))!.value) as AuthSecrets;
    const user = JSON.parse((await store().get(`${AUTH_PREFIX}users/opsA`))!.value) as { uid: string };
    tokens["expired"] = await new TokenSigner(signingKey).sign({ kind: "user", sub: "opsA", uid: user.uid, source: "local", groups: [] }, -60);
    tokens["forged"] = await new TokenSigner(Buffer.alloc(32, 7).toString("base64")).sign({ kind: "user", sub: "admin", uid: "", source: "local", groups: [] }, 600);
  });

  after(() => nm?.stop());

  /** One case per declared route, filled in here so a new route without a case fails the test below. */
  const cases = (): Map<string, Case> => {
    const c = new Map<string, Case>();
    const add = (route: string, call: Call, who: Partial<Case> = {}) =>
      c.set(route, { ...call, opsOther: "refused", hostOther: "refused", opsOwn: false, hostOwn: false, ...who });
    const everyone = { opsOther: "allowed", hostOther: "allowed", opsOwn: true, hostOwn: true } as const;
    const tenantRoute = { opsOwn: true } as const;
    const h1Route = { hostOwn: true } as const;
    add("GET /version", { method: "GET", path: "/version" }, everyone);
    add("GET /info", { method: "GET", path: "/info" }, everyone);
    add("GET /metrics", { method: "GET", path: "/metrics" }, everyone);
    add("GET /debug/state", { method: "GET", path: "/debug/state" });
    add("GET /ui/*", { method: "GET", path: "/ui/" }, everyone);
    add("POST /api/v1/auth_proxy/login", { method: "POST", path: "/api/v1/auth_proxy/login/", body: { username: "admin", password: ADMIN_PASSWORD } }, everyone);
    add("GET /api/v1/auth_proxy/health", { method: "GET", path: "/api/v1/auth_proxy/health/" }, everyone);
    add("GET /api/v1/auth_proxy/version", { method: "GET", path: "/api/v1/auth_proxy/version/" }, everyone);
    add("GET /api/v1/auth_proxy/local_users", { method: "GET", path: "/api/v1/auth_proxy/local_users/" });
    add("POST /api/v1/auth_proxy/local_users", { method: "POST", path: "/api/v1/auth_proxy/local_users/", body: { username: "newbie", password: "newbie-password" } });
    add("GET /api/v1/auth_proxy/local_users/:name", { method: "GET", path: "/api/v1/auth_proxy/local_users/opsA/" }, { opsOwn: true });
    add("PATCH /api/v1/auth_proxy/local_users/:name", { method: "PATCH", path: "/api/v1/auth_proxy/local_users/opsA/", body: { first_name: "Ada" } }, { opsOwn: true });
    add("DELETE /api/v1/auth_proxy/local_users/:name", { method: "DELETE", path: "/api/v1/auth_proxy/local_users/victim/" });
    add("GET /api/v1/auth_proxy/authorizations", { method: "GET", path: "/api/v1/auth_proxy/authorizations/" });
    add("POST /api/v1/auth_proxy/authorizations", { method: "POST", path: "/api/v1/auth_proxy/authorizations/", body: { principalName: "opsB", local: true, role: "admin" } });
    add("GET /api/v1/auth_proxy/authorizations/:uuid", { method: "GET", path: `/api/v1/auth_proxy/authorizations/${ids["authz-opsA"]}/` });
    add("DELETE /api/v1/auth_proxy/authorizations/:uuid", { method: "DELETE", path: `/api/v1/auth_proxy/authorizations/${ids["spare-authz"]}/` });
    const ldap = { server: "ldap.test", base_dn: "dc=test", service_account_dn: "cn=svc,dc=test", service_account_password: "svc-secret" };
    add("PUT /api/v1/auth_proxy/ldap_configuration", { method: "PUT", path: "/api/v1/auth_proxy/ldap_configuration/", body: ldap });
    add("GET /api/v1/auth_proxy/ldap_configuration", { method: "GET", path: "/api/v1/auth_proxy/ldap_configuration/" });
    add("PATCH /api/v1/auth_proxy/ldap_configuration", { method: "PATCH", path: "/api/v1/auth_proxy/ldap_configuration/", body: { port: 390 } });
    add("DELETE /api/v1/auth_proxy/ldap_configuration", { method: "DELETE", path: "/api/v1/auth_proxy/ldap_configuration/" });
    add("POST /api/v1/agent/join", { method: "POST", path: "/api/v1/agent/join/", body: { host: "h9", joinToken: ids["joinToken"] } }, everyone);
    add("POST /api/v1/agent/endpoints", { method: "POST", path: "/api/v1/agent/endpoints/", body: { tenantName: "A", networkName: "net", containerID: "c9", host: "h1" } }, h1Route);
    add("DELETE /api/v1/agent/endpoints/:id", { method: "DELETE", path: `/api/v1/agent/endpoints/${ids["ep2"]}/` }, h1Route);
    add("PUT /api/v1/agent/endpoints/:id/oper", { method: "PUT", path: `/api/v1/agent/endpoints/${ids["ep1"]}/oper`, body: { containerName: "web" } }, h1Route);
    add("PUT /api/v1/agent/endpoints/:id/lease", { method: "PUT", path: `/api/v1/agent/endpoints/${ids["ep1"]}/lease`, body: { ipAddress: "198.18.0.77" } }, h1Route);
    add("POST /api/v1/agent/blocks", { method: "POST", path: "/api/v1/agent/blocks/", body: { tenantName: "A", networkName: "net", host: "h1" } }, h1Route);
    add("DELETE /api/v1/agent/blocks/:network/:cidr", { method: "DELETE", path: `/api/v1/agent/blocks/A:net/${ids["block1"]}` }, h1Route);
    add("POST /api/v1/agent/docker/pools", { method: "POST", path: "/api/v1/agent/docker/pools/", body: { host: "h1" } }, h1Route);
    add("DELETE /api/v1/agent/docker/pools/:id", { method: "DELETE", path: `/api/v1/agent/docker/pools/${ids["pool1"]}` }, h1Route);
    add("POST /api/v1/agent/docker/pools/:id/addresses", { method: "POST", path: `/api/v1/agent/docker/pools/${ids["pool1"]}/addresses`, body: { host: "h1" } }, h1Route);
    add("POST /api/v1/agent/docker/pools/:id/release", { method: "POST", path: `/api/v1/agent/docker/pools/${ids["pool1"]}/release`, body: { address: "10.200.0.9" } }, h1Route);
    add("POST /api/v1/agent/docker/networks", { method: "POST", path: "/api/v1/agent/docker/networks/", body: { host: "h1", name: "dnet2", tenant: "A", subnet: "198.18.14.0/24" } }, h1Route);
    add("DELETE /api/v1/agent/docker/networks/:key", { method: "DELETE", path: "/api/v1/agent/docker/networks/A:dnet" }, h1Route);
    add("POST /api/v1/agent/docker/endpoints", { method: "POST", path: "/api/v1/agent/docker/endpoints/", body: { tenantName: "A", networkName: "net", containerID: "d9", host: "h1" } }, h1Route);
    add("DELETE /api/v1/agent/docker/endpoints/:id", { method: "DELETE", path: `/api/v1/agent/docker/endpoints/${ids["dep1"]}` }, h1Route);
    add("PUT /api/v1/agent/hosts/:name/bgp", { method: "PUT", path: "/api/v1/agent/hosts/h1/bgp", body: { neighborStatus: "", adminStatus: "", numRoutes: 0, routes: [] } }, h1Route);
    add("PUT /api/v1/agent/hosts/:name/counters", { method: "PUT", path: "/api/v1/agent/hosts/h1/counters", body: { rules: {} } }, h1Route);
    add("PUT /api/v1/agent/hosts/:name/flows", { method: "PUT", path: "/api/v1/agent/hosts/h1/flows", body: { allowed: false, stats: { cap: 10, entries: 0, seenPackets: 0, seenEntries: 0, evictedPackets: 0, evictedEntries: 0 }, records: [] } }, h1Route);
    add("PUT /api/v1/agent/hosts/:name/realized", { method: "PUT", path: "/api/v1/agent/hosts/h1/realized", body: { revision: 0, epoch: "", failures: [] } }, h1Route);
    add("PUT /api/v1/agent/hosts/:name", { method: "PUT", path: "/api/v1/agent/hosts/h1/", body: { vtepIP: "198.18.0.99", mtu: 1500 } }, h1Route);
    add("GET /api/v1/agent/hosts", { method: "GET", path: "/api/v1/agent/hosts/" });
    add("DELETE /api/v1/agent/hosts/:name", { method: "DELETE", path: "/api/v1/agent/hosts/h4/?force=true" });
    add("GET /api/v1/agent/watch", { method: "GET", path: "/api/v1/agent/watch?host=h1" }, h1Route);
    add("GET /api/v1/inspect/endpoints/:id", { method: "GET", path: `/api/v1/inspect/endpoints/${ids["ep1"]}/` }, tenantRoute);
    add("GET /api/v1/inspect/:collection/:key", { method: "GET", path: "/api/v1/inspect/networks/A:net/" }, tenantRoute);
    add("GET /api/v1/trace", { method: "GET", path: `/api/v1/trace?tenant=A&from=${ids["ep1"]}&to=198.18.10.99&port=80` }, tenantRoute);
    add("GET /api/v1/flows", { method: "GET", path: "/api/v1/flows?tenant=A&denied=true" }, tenantRoute);
    add("GET /api/v1/:collection", { method: "GET", path: "/api/v1/networks/" }, { opsOther: "allowed", opsOwn: true });
    add("GET /api/v1/:collection/:key", { method: "GET", path: "/api/v1/networks/A:net/" }, tenantRoute);
    const net2 = { tenantName: "A", networkName: "net2", encap: "vxlan", subnet: "198.18.13.0/24" };
    add("POST /api/v1/:collection/:key", { method: "POST", path: "/api/v1/networks/A:net2/", body: net2 }, tenantRoute);
    add("PUT /api/v1/:collection/:key", { method: "PUT", path: "/api/v1/networks/A:net2/", body: net2 }, tenantRoute);
    add("DELETE /api/v1/:collection/:key", { method: "DELETE", path: "/api/v1/networks/A:net2/" }, tenantRoute);
    return c;
  };

  it("has a case for every declared route, and every route declares a rule", () => {
    const declared = declaredRoutes(nm.app).map((r) => `${r.method} ${r.path}`);
    assert.deepEqual([...cases().keys()].sort(), [...declared].sort());
    // Hono's own list: every route registered is a declared one (middleware aside).
    const registered = new Set(nm.app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`));
    assert.deepEqual([...registered].sort(), [...new Set(declared)].sort());
  });

  it("refuses every route to no token, a malformed, expired, forged or revoked token, with 401, changing nothing", async () => {
    const rules = new Map(declaredRoutes(nm.app).map((r) => [`${r.method} ${r.path}`, r.rule]));
    const callers: [string, string | undefined][] = [
      ["no token", undefined],
      ["malformed", "not.a.token"],
      ["expired", tokens["expired"]],
      ["forged", tokens["forged"]],
      ["deleted user", tokens["gone"]],
      ["revoked host", tokens["h3"]],
    ];
    for (const [route, c] of cases()) {
      if (rules.get(route) === open) continue;
      for (const [who, token] of callers) {
        const before = await snapshot();
        const r = await call(c, token);
        assert.equal(r.status, 401, `${who} → ${route}: ${r.status} ${r.text}`);
        assert.equal(await snapshot(), before, `${who} → ${route} changed the store`);
      }
    }
  });

  it("refuses ops of another tenant and another host's agent with 403, changing nothing", async () => {
    for (const [route, c] of cases()) {
      for (const [who, token, expected] of [
        ["ops of tenant B", tokens["opsB"]!, c.opsOther],
        ["host h2", tokens["h2"]!, c.hostOther],
      ] as const) {
        if (expected === "allowed") continue;
        const before = await snapshot();
        const r = await call(c, token);
        assert.equal(r.status, 403, `${who} → ${route}: ${r.status} ${r.text}`);
        assert.equal(await snapshot(), before, `${who} → ${route} changed the store`);
      }
    }
  });

  it("an ops user's lists show its tenants' objects only", async () => {
    const nets = (await call({ method: "GET", path: "/api/v1/networks/" }, tokens["opsB"])).body as { tenantName: string }[];
    assert.deepEqual([...new Set(nets.map((n) => n.tenantName))], ["B"]);
    const tenants = (await call({ method: "GET", path: "/api/v1/tenants/" }, tokens["opsA"])).body as { tenantName: string }[];
    assert.deepEqual(tenants.map((t) => t.tenantName), ["A"]);
    const globals = (await call({ method: "GET", path: "/api/v1/globals/" }, tokens["opsA"])).body as unknown[];
    assert.equal(globals.length, 1);
  });

  it("ops may not create tenants or change global; may not read users or the raw state", async () => {
    for (const c of [
      { method: "POST", path: "/api/v1/tenants/C/", body: { tenantName: "C" } },
      { method: "DELETE", path: "/api/v1/tenants/A/" },
      { method: "POST", path: "/api/v1/globals/global/", body: { name: "global", networkInfraType: "default", vlans: "1-4094", vxlans: "1-10000", fwdMode: "bridge", arpMode: "proxy", pvtSubnet: "172.19.0.0/16" } },
      { method: "GET", path: "/api/v1/auth_proxy/local_users/" },
      { method: "GET", path: "/debug/state" },
      { method: "PATCH", path: "/api/v1/auth_proxy/local_users/opsA/", body: { disable: true } },
    ]) {
      const r = await call(c, tokens["opsA"]);
      assert.equal(r.status, 403, `${c.method} ${c.path}: ${r.status} ${r.text}`);
    }
  });

  it("lets admins, ops within their tenant and hosts on their own records through", async () => {
    const rules = new Map(declaredRoutes(nm.app).map((r) => [`${r.method} ${r.path}`, r.rule]));
    for (const [route, c] of cases()) {
      const callers: [string, string][] = [];
      if (c.opsOwn || [anyPrincipal, objectList].includes(rules.get(route)!)) callers.push(["ops of tenant A", tokens["opsA"]!]);
      if (c.hostOwn) callers.push(["host h1", tokens["h1"]!]);
      for (const [who, token] of callers) {
        const r = await call(c, token);
        assert.ok(r.status !== 401 && r.status !== 403, `${who} → ${route}: ${r.status} ${r.text}`);
      }
    }
    // Admin last: it deletes what the others used.
    for (const [route, c] of cases()) {
      const r = await call(c, tokens["admin"]);
      assert.ok(r.status !== 401 && r.status !== 403, `admin → ${route}: ${r.status} ${r.text}`);
    }
  });

  it("another host cannot move a host's VTEP or delete its endpoints", async () => {
    const hostsBefore = JSON.stringify((await call({ method: "GET", path: "/api/v1/agent/hosts/" }, tokens["admin"])).body);
    const move = await call({ method: "PUT", path: "/api/v1/agent/hosts/h1/", body: { vtepIP: "203.0.113.66", mtu: 1500 } }, tokens["h2"]);
    assert.equal(move.status, 403, move.text);
    const del = await call({ method: "DELETE", path: `/api/v1/agent/endpoints/${ids["ep1"]}/` }, tokens["h2"]);
    assert.equal(del.status, 403, del.text);
    assert.equal(JSON.stringify((await call({ method: "GET", path: "/api/v1/agent/hosts/" }, tokens["admin"])).body), hostsBefore);
    assert.equal((await call({ method: "GET", path: `/api/v1/inspect/endpoints/${ids["ep1"]}/` }, tokens["admin"])).status, 200);
  });

  it("refuses what a browser on another site can send: text/plain writes, a foreign Origin, a rebinding Host", async () => {
    const policy = { tenantName: "A", policyName: "p" };
    const plain = await call({ method: "POST", path: "/api/v1/policys/A:p/", body: policy }, undefined, { "content-type": "text/plain" });
    assert.equal(plain.status, 415, plain.text);
    const foreign = await call({ method: "POST", path: "/api/v1/policys/A:p/", body: policy }, tokens["admin"], { origin: "https://evil.example" });
    assert.equal(foreign.status, 403, foreign.text);
    const rebound = await call({ method: "GET", path: "/version" }, undefined, { host: "evil.example:9999" });
    assert.equal(rebound.status, 403, rebound.text);
    const same = await call({ method: "POST", path: "/api/v1/policys/A:p/", body: policy }, tokens["admin"], { origin: `https://${HOST}:9999` });
    assert.equal(same.status, 200, same.text);
  });

  it("shows the raw state to admins only, and never the secrets in it", async () => {
    const state = (await call({ method: "GET", path: "/debug/state" }, tokens["admin"])).body as Record<string, unknown>;
    assert.ok(Object.keys(state).length > 0);
    assert.deepEqual(Object.keys(state).filter((k) => k.startsWith(AUTH_PREFIX)), []);
  });
});
