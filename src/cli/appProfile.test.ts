import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import { fakeNetmaster, runNetctl, type FakeNetmaster } from "./testing/fakeNetmaster.js";

describe("netctl app-profile", () => {
  let fake: FakeNetmaster;
  const netctl = (...argv: string[]) => runNetctl(argv, { NETMASTER: fake.url });
  beforeEach(async () => {
    fake = await fakeNetmaster({ "GET /api/v1/tenants/default/": { json: { tenantName: "default" } } });
  });
  afterEach(() => fake.close());

  it("create splits the comma-separated group list; update sends the same POST silently", async () => {
    const c = await netctl("app-profile", "create", "-g", "web,db", "app1");
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.stdout, "Creating AppProfile default:app1\n");
    const u = await netctl("app-profile", "update", "-t", "default", "--group", "web", "app1");
    assert.equal(u.stdout, "");
    assert.deepEqual(fake.requests, [
      {
        method: "POST",
        path: "/api/v1/appProfiles/default:app1/",
        body: { tenantName: "default", appProfileName: "app1", endpointGroups: ["web", "db"] },
      },
      {
        method: "POST",
        path: "/api/v1/appProfiles/default:app1/",
        body: { tenantName: "default", appProfileName: "app1", endpointGroups: ["web"] },
      },
    ]);
  });

  it("rm deletes; a missing name is a usage error", async () => {
    assert.equal((await netctl("app-profile", "rm", "app1")).code, 0);
    assert.deepEqual(fake.calls(), ["DELETE /api/v1/appProfiles/default:app1/"]);
    assert.equal((await netctl("app-profile", "create")).stderr.split("\n")[0], "Error: Profile name required");
  });

  it("ls prints Tenant/AppProfile/Groups", async () => {
    fake.on("GET /api/v1/appProfiles/", {
      json: [
        { tenantName: "default", appProfileName: "app1", endpointGroups: ["web", "db"] },
        { tenantName: "blue", appProfileName: "app2" },
      ],
    });
    assert.equal(
      (await netctl("app-profile", "ls")).stdout,
      "Tenant   AppProfile  Groups\n------   ----------  ------\ndefault  app1        web,db\n",
    );
    assert.equal((await netctl("app-profile", "list", "-a", "-q")).stdout, "app1\napp2\n");
  });

  it("group-ls prints the groups comma-joined; -j the profile", async () => {
    const prof = { tenantName: "default", appProfileName: "app1", endpointGroups: ["web", "db"] };
    fake.on("GET /api/v1/appProfiles/default:app1/", { json: prof });
    assert.equal((await netctl("app-profile", "group-ls", "app1")).stdout, "web,db\n");
    assert.equal((await netctl("app-profile", "group-list", "-j", "app1")).stdout, JSON.stringify(prof, null, 2) + "\n");
  });
});
