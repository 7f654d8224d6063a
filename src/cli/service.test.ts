import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import { fakeNetmaster, runNetctl, type FakeNetmaster } from "./testing/fakeNetmaster.js";

describe("netctl service", () => {
  let fake: FakeNetmaster;
  const netctl = (...argv: string[]) => runNetctl(argv, { NETMASTER: fake.url });
  beforeEach(async () => {
    fake = await fakeNetmaster({ "GET /api/v1/tenants/default/": { json: { tenantName: "default" } } });
  });
  afterEach(() => fake.close());

  it("create sends network, selectors, ports and the preferred IP (-ip)", async () => {
    const r = await netctl("service", "create", "-s", "net1", "-l", "app=web", "-l", "env=prod", "-p", "80:8080:TCP", "-ip", "10.1.1.100", "svc1");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "Creating ServiceLB default:svc1\n");
    assert.deepEqual(fake.bodyOf("POST /api/v1/serviceLBs/default:svc1/"), {
      serviceName: "svc1",
      tenantName: "default",
      networkName: "net1",
      ipAddress: "10.1.1.100",
      selectors: ["app=web", "env=prod"],
      ports: ["80:8080:TCP"],
    });
  });

  it("rm defaults the tenant to default and prints Contiv's message", async () => {
    const r = await netctl("service", "rm", "svc1");
    assert.equal(r.stdout, "Deleting Service  svc1,default\n");
    assert.equal((await netctl("service", "delete", "--tenant", "blue", "svc2")).code, 0);
    assert.deepEqual(fake.calls(), ["DELETE /api/v1/serviceLBs/default:svc1/", "DELETE /api/v1/serviceLBs/blue:svc2/"]);
  });

  it("ls prints selectors Go-style, as a padded column of their own", async () => {
    fake.on("GET /api/v1/serviceLBs/", {
      json: [
        { tenantName: "default", serviceName: "svc1", networkName: "net1", selectors: ["app=web", "env=prod"] },
        { tenantName: "blue", serviceName: "svc2", networkName: "n" },
      ],
    });
    assert.equal(
      (await netctl("service", "ls")).stdout,
      "ServiceName  Tenant    Network  Selectors\n" +
        "---------    --------  -------  -------\n" +
        "svc1         default   net1     [app=web env=prod]  \n",
    );
    assert.equal((await netctl("service", "list", "-a", "-q")).stdout, "svc1\nsvc2\n");
  });

  it("inspect prints the inspect object", async () => {
    fake.on("GET /api/v1/inspect/serviceLBs/default:svc1/", { json: { Config: {}, Oper: { serviceVip: "10.1.1.100" } } });
    const r = await netctl("service", "inspect", "svc1");
    assert.equal(r.stdout, JSON.stringify({ Config: {}, Oper: { serviceVip: "10.1.1.100" } }, null, 2) + "\n");
    assert.equal((await netctl("service", "inspect")).stderr.split("\n")[0], "Error: Service group name required");
  });
});
