import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import { fakeNetmaster, runNetctl, type FakeNetmaster } from "./testing/fakeNetmaster.js";

describe("netctl external-contracts", () => {
  let fake: FakeNetmaster;
  const netctl = (...argv: string[]) => runNetctl(argv, { NETMASTER: fake.url });
  beforeEach(async () => {
    fake = await fakeNetmaster({ "GET /api/v1/tenants/default/": { json: { tenantName: "default" } } });
  });
  afterEach(() => fake.close());

  it("create -p/-c sets the contracts type; -a is repeatable", async () => {
    const r = await netctl("external-contracts", "create", "-p", "-a", "uni/tn-common/brc-default", "-a", "uni/tn-common/brc-x", "ec1");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "Creating ExternalContracts default:ec1\n");
    assert.deepEqual(fake.bodyOf("POST /api/v1/extContractsGroups/default:ec1/"), {
      tenantName: "default",
      contractsGroupName: "ec1",
      contractsType: "provided",
      contracts: ["uni/tn-common/brc-default", "uni/tn-common/brc-x"],
    });
    assert.equal((await netctl("external-contracts", "create", "--consumed", "--contract", "c", "-t", "blue", "ec2")).code, 0);
    assert.equal((fake.bodyOf("POST /api/v1/extContractsGroups/blue:ec2/") as Record<string, unknown>)["contractsType"], "consumed");
  });

  const errors: Array<{ argv: string[]; message: string }> = [
    { argv: ["-p", "-c", "-a", "x", "ec"], message: "Cannot use both provided and consumed" },
    { argv: ["-a", "x", "ec"], message: "Either provided or consumed must be specified" },
    { argv: ["-p", "ec"], message: "Contracts not provided" },
    { argv: ["-p", "-a", "x"], message: "Contracts group name required" },
  ];
  for (const c of errors) {
    it(`create refuses: ${c.message}`, async () => {
      const r = await netctl("external-contracts", "create", ...c.argv);
      assert.equal(r.code, 1);
      assert.equal(r.stderr.split("\n")[0], `Error: ${c.message}`);
      assert.deepEqual(fake.calls(), []);
    });
  }

  it("ls prints the table with Contracts under its header", async () => {
    fake.on("GET /api/v1/extContractsGroups/", {
      json: [{ tenantName: "default", contractsGroupName: "ec1", contractsType: "provided", contracts: ["uni/tn-common/brc-default"] }],
    });
    assert.equal(
      (await netctl("external-contracts", "ls")).stdout,
      "Tenant   Name      Type        Contracts\n" +
        "------   ------    ------      -------\n" +
        "default  ec1       provided    [uni/tn-common/brc-default]\n",
    );
    assert.equal((await netctl("external-contracts", "list", "-q")).stdout, "ec1\n");
  });

  it("rm announces and deletes", async () => {
    const r = await netctl("external-contracts", "rm", "ec1");
    assert.equal(r.stdout, "Deleting external contracts group ec1 in tenant default\n");
    assert.deepEqual(fake.calls(), ["DELETE /api/v1/extContractsGroups/default:ec1/"]);
  });
});
