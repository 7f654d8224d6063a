import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import { fakeNetmaster, runNetctl, type FakeNetmaster } from "./testing/fakeNetmaster.js";

describe("netctl bgp", () => {
  let fake: FakeNetmaster;
  const netctl = (...argv: string[]) => runNetctl(argv, { NETMASTER: fake.url });
  const host1 = { key: "host1", hostname: "host1", routerip: "50.1.1.1/24", as: "65002", "neighbor-as": "500", neighbor: "50.1.1.2" };
  beforeEach(async () => {
    fake = await fakeNetmaster({ "GET /api/v1/Bgps/": { json: [host1] } });
  });
  afterEach(() => fake.close());

  it("create POSTs to Bgps/<host> with the neighbor-as key", async () => {
    const r = await netctl("bgp", "create", "--router-ip", "50.1.1.1/24", "--as", "65002", "--neighbor-as", "500", "--neighbor", "50.1.1.2", "host1");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(fake.bodyOf("POST /api/v1/Bgps/host1/"), {
      hostname: "host1",
      routerip: "50.1.1.1/24",
      as: "65002",
      "neighbor-as": "500",
      neighbor: "50.1.1.2",
    });
  });

  const errors: Array<{ argv: string[]; message: string }> = [
    {
      argv: ["--as", "1", "--neighbor-as", "2", "--neighbor", "50.1.1.2", "h"],
      message: "Wrong CIDR format. Enter in x.x.x.x/len format",
    },
    {
      argv: ["--router-ip", "50.1.1.1", "--as", "1", "--neighbor-as", "2", "--neighbor", "50.1.1.2", "h"],
      message: "Wrong CIDR format. Enter in x.x.x.x/len format",
    },
    {
      argv: ["--router-ip", "50.1.1.1/24", "--as", "1", "--neighbor-as", "2", "--neighbor", "50.1.1", "h"],
      message: "Wrong IP format. Enter in x.x.x.x format",
    },
    {
      argv: ["--router-ip", "50.1.1.1/24", "--neighbor-as", "2", "--neighbor", "50.1.1.2", "h"],
      message: "Missing attributes",
    },
    { argv: ["--router-ip", "50.1.1.1/24", "--as", "1", "--neighbor", "50.1.1.2", "h"], message: "Missing attributes" },
    {
      argv: ["--router-ip", "50.1.1.1/24", "--as", "1", "--neighbor-as", "2", "--neighbor", "50.1.1.2"],
      message: "Host name required",
    },
  ];
  for (const c of errors) {
    it(`create refuses: ${c.message}`, async () => {
      const r = await netctl("bgp", "create", ...c.argv);
      assert.equal(r.code, 1);
      assert.equal(r.stderr.split("\n")[0], `Error: ${c.message}`);
      assert.deepEqual(fake.calls(), []);
    });
  }

  it("ls prints the table; -q works (it did not in Contiv); -j the list", async () => {
    const r = await netctl("bgp", "ls");
    assert.equal(
      r.stdout,
      "HostName   RouterIP     AS       Neighbor  NeighborAS\n" +
        "---------  --------     -------  --------  -------\n" +
        "host1      50.1.1.1/24  65002    50.1.1.2  500\n",
    );
    assert.equal((await netctl("bgp", "list", "-q")).stdout, "host1\n");
    assert.equal((await netctl("bgp", "ls", "-j")).stdout, JSON.stringify([host1], null, 2) + "\n");
  });

  it("rm announces and deletes; inspect prints", async () => {
    assert.equal((await netctl("bgp", "rm", "host1")).stdout, "Deleting Bgp router config: host1\n");
    fake.on("GET /api/v1/inspect/Bgps/host1/", { json: { Config: host1, Oper: { numRoutes: 2 } } });
    assert.equal((await netctl("bgp", "inspect", "host1")).stdout, JSON.stringify({ Config: host1, Oper: { numRoutes: 2 } }, null, 2) + "\n");
    assert.deepEqual(fake.calls(), ["DELETE /api/v1/Bgps/host1/", "GET /api/v1/inspect/Bgps/host1/"]);
  });
});
