// How netmaster answers errors, in both --error-status modes: wrong methods are a 405 with the methods the
// path allows, and in contiv mode every error on Contiv's surface is a 500 with the same plain-text message
// (Contiv's Go client reads a message only from a 500), while the agents' calls keep their statuses.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Api } from "../harness/api.js";
import { startNetmaster, tempDir, sqliteUrl, waitForLeader, type NetmasterProcess } from "../harness/netmaster.js";

interface Case {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  raw?: string;
  status: number;
  message: RegExp | string;
  allow?: string;
}

const ALL_KEY_METHODS = "GET, HEAD, POST, PUT, DELETE";

const cases: Case[] = [
  { name: "400 malformed JSON", method: "POST", path: "/api/v1/tenants/x/", raw: "{not json", status: 400, message: /^Request body is not valid JSON/ },
  { name: "400 invalid object", method: "POST", path: "/api/v1/tenants/bad_name/", body: { tenantName: "bad_name" }, status: 400, message: /tenantName/ },
  { name: "404 unknown object", method: "GET", path: "/api/v1/networks/default:nope/", status: 404, message: "network not found" },
  { name: "404 delete of an unknown object", method: "DELETE", path: "/api/v1/networks/default:nope/", status: 404, message: "network not found" },
  { name: "404 path served for no method", method: "GET", path: "/api/v1/a/b/c/", status: 404, message: "Not found: GET /api/v1/a/b/c" },
  { name: "405 POST on a collection", method: "POST", path: "/api/v1/tenants/", body: { tenantName: "x" }, status: 405, message: "Cannot POST /api/v1/tenants: it allows GET, HEAD", allow: "GET, HEAD" },
  { name: "405 PATCH on an object", method: "PATCH", path: "/api/v1/tenants/x/", body: { tenantName: "x" }, status: 405, message: `Cannot PATCH /api/v1/tenants/x: it allows ${ALL_KEY_METHODS}`, allow: ALL_KEY_METHODS },
  { name: "405 PUT /version", method: "PUT", path: "/version", body: {}, status: 405, message: "Cannot PUT /version: it allows GET, HEAD", allow: "GET, HEAD" },
  { name: "409 conflict", method: "POST", path: "/api/v1/tenants/blue/", body: { tenantName: "blue", defaultNetwork: "x" }, status: 409, message: "Cant change tenant parameters after its created" },
  { name: "413 body too large", method: "POST", path: "/api/v1/tenants/x/", raw: JSON.stringify({ tenantName: "x", pad: "a".repeat(2_000_000) }), status: 413, message: /^Request body too large/ },
];

/** The agents' own calls: the same status in both modes. */
const agentCases: Case[] = [
  { name: "agent 400", method: "POST", path: "/api/v1/agent/endpoints/", body: { tenantName: "default", networkName: "n" }, status: 400, message: /containerID/ },
  { name: "agent 404", method: "DELETE", path: "/api/v1/agent/endpoints/nosuch/", status: 404, message: "Endpoint nosuch not found" },
  { name: "agent 405 GET of a host's report", method: "GET", path: "/api/v1/agent/hosts/h1/realized", status: 405, message: "Cannot GET /api/v1/agent/hosts/h1/realized: it allows PUT", allow: "PUT" },
  { name: "agent 405", method: "PATCH", path: "/api/v1/agent/hosts/h1/", body: {}, status: 405, message: /^Cannot PATCH \/api\/v1\/agent\/hosts\/h1: it allows /, allow: "PUT, DELETE" },
];

for (const mode of ["http", "contiv"] as const) {
  describe(`errors with --error-status ${mode}`, () => {
    let nm: NetmasterProcess;
    let api: Api;
    const dir = tempDir();

    before(async () => {
      nm = await startNetmaster({ store: sqliteUrl(dir.path), args: ["--error-status", mode] });
      await waitForLeader(nm);
      api = nm.api();
      await api.create("/api/v1/tenants/blue/", { tenantName: "blue" });
    });
    after(async () => {
      await nm?.stop();
      dir.remove();
    });

    for (const c of cases) {
      const status = mode === "contiv" ? 500 : c.status;
      test(`${c.name}: ${status}, the message as plain text, nothing changed`, async () => {
        const before = await api.state();
        const r = await api.call(c.method, c.path, c.body, c.raw);
        assert.equal(r.status, status, r.text);
        if (typeof c.message === "string") assert.equal(r.text, c.message);
        else assert.match(r.text, c.message);
        assert.deepEqual(await api.state(), before);
      });
    }

    for (const c of agentCases) {
      test(`${c.name}: keeps its status`, async () => {
        const r = await api.call(c.method, c.path, c.body, c.raw);
        assert.equal(r.status, c.status, r.text);
        if (typeof c.message === "string") assert.equal(r.text, c.message);
        else assert.match(r.text, c.message);
      });
    }

    test("a wrong method's Allow header lists exactly the methods the path answers", async () => {
      for (const c of [...cases, ...agentCases].filter((c) => c.allow)) {
        const json = { headers: { "content-type": "application/json" }, body: "{}" };
        const res = await nm.fetch(c.path, { method: c.method, ...(c.method === "GET" ? {} : json) });
        assert.equal(res.headers.get("allow"), c.allow, `${c.method} ${c.path}`);
        assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
        await res.arrayBuffer();
        // Each allowed method is routed (whatever its handler then says); OPTIONS is not.
        for (const method of c.allow!.split(", ")) {
          const other = await nm.fetch(c.path, { method, ...(method === "GET" || method === "HEAD" ? {} : json) });
          assert.equal(other.headers.get("allow"), null, `${method} ${c.path} is routed`);
          await other.arrayBuffer();
        }
        const options = await nm.fetch(c.path, { method: "OPTIONS" });
        assert.equal(options.status, mode === "contiv" && !c.path.startsWith("/api/v1/agent/") ? 500 : 405);
        assert.equal(options.headers.get("allow"), c.allow);
        await options.arrayBuffer();
      }
    });

    test("HEAD follows GET; a HEAD on a path without GET is a 405", async () => {
      const head = await nm.fetch("/version", { method: "HEAD" });
      assert.equal(head.status, 200);
      const noGet = await nm.fetch("/api/v1/agent/hosts/h1/realized", { method: "HEAD" });
      assert.equal(noGet.status, 405, "an agent path keeps its status");
      assert.equal(noGet.headers.get("allow"), "PUT");
    });
  });
}
