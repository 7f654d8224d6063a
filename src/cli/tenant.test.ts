import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import { fakeNetmaster, runNetctl, type FakeNetmaster } from "./testing/fakeNetmaster.js";

describe("netctl tenant", () => {
  let fake: FakeNetmaster;
  const netctl = (...argv: string[]) => runNetctl(argv, { NETMASTER: fake.url });
  const tenants = [
    { key: "default", tenantName: "default" },
    { key: "blue", tenantName: "blue" },
  ];
  beforeEach(async () => {
    fake = await fakeNetmaster({ "GET /api/v1/tenants/": { json: tenants } });
  });
  afterEach(() => fake.close());

  it("ls prints Contiv's one-column table (a trailing tab pads every line)", async () => {
    const r = await netctl("tenant", "ls");
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "Name     \n------   \ndefault  \nblue     \n");
    assert.deepEqual(fake.calls(), ["GET /api/v1/tenants/"]);
  });

  it("list -q prints names, ls -j pretty JSON", async () => {
    assert.equal((await netctl("tenant", "list", "-q")).stdout, "default\nblue\n");
    assert.equal((await netctl("tenant", "ls", "--json")).stdout, JSON.stringify(tenants, null, 2) + "\n");
  });

  it("create POSTs the tenant and says so", async () => {
    const r = await netctl("tenant", "create", "blue");
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "Creating tenant: blue\n");
    assert.deepEqual(fake.bodyOf("POST /api/v1/tenants/blue/"), { tenantName: "blue" });
  });

  it("rm and delete DELETE the tenant", async () => {
    for (const verb of ["rm", "delete"]) {
      const r = await netctl("tenant", verb, "blue");
      assert.equal(r.code, 0);
      assert.equal(r.stdout, "Deleting tenant blue\n");
    }
    assert.deepEqual(fake.calls(), ["DELETE /api/v1/tenants/blue/", "DELETE /api/v1/tenants/blue/"]);
  });

  it("inspect prints the inspect object", async () => {
    const inspect = { Config: { key: "blue", tenantName: "blue" }, Oper: { totalNetworks: 2 } };
    fake.on("GET /api/v1/inspect/tenants/blue/", { json: inspect });
    const r = await netctl("tenant", "inspect", "blue");
    assert.equal(r.code, 0);
    assert.equal(r.stdout, JSON.stringify(inspect, null, 2) + "\n");
  });

  it("a missing name is a usage error with help, and sends nothing", async () => {
    for (const verb of ["create", "rm", "inspect"]) {
      const r = await netctl("tenant", verb);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Error: Tenant name required\n\nUsage: netctl tenant /);
    }
    assert.equal((await netctl("tenant", "ls", "extra")).stderr.split("\n")[0], "Error: More arguments than required");
    assert.deepEqual(fake.calls(), []);
  });

  it("a refused delete exits 3 with the server's message", async () => {
    fake.on("DELETE /api/v1/tenants/blue/", { status: 409, text: 'Cannot delete tenant "blue": it has 2 networks' });
    const r = await netctl("tenant", "rm", "blue");
    assert.equal(r.code, 3);
    assert.equal(r.stdout, "Deleting tenant blue\n");
    assert.equal(r.stderr, 'Error: Cannot delete tenant "blue": it has 2 networks\n');
  });
});
