import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import { fakeNetmaster, runNetctl, type FakeNetmaster } from "./testing/fakeNetmaster.js";
import { normalizeBandwidth } from "./netprofile.js";

describe("normalizeBandwidth", () => {
  const cases: Array<[string, string]> = [
    ["10Mbps", "10Mbps"],
    ["10 Gbps", "10Gbps"],
    ["10 Gb", "10Gbps"],
    ["5Gb", "5Gbps"],
    ["4g", "4Gbps"],
    ["20mb", "20Mbps"],
    ["100 kbps", "100Kbps"],
    ["1 K", "1Kbps"],
    ["", ""],
    ["10", "10"],
    ["fast", "fast"],
  ];
  for (const [input, want] of cases) it(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => assert.equal(normalizeBandwidth(input), want));
});

describe("netctl netprofile", () => {
  let fake: FakeNetmaster;
  const netctl = (...argv: string[]) => runNetctl(argv, { NETMASTER: fake.url });
  beforeEach(async () => {
    fake = await fakeNetmaster({ "GET /api/v1/tenants/default/": { json: { tenantName: "default" } } });
  });
  afterEach(() => fake.close());

  it("create sends bandwidth, DSCP (upper-case key) and burst", async () => {
    const r = await netctl("netprofile", "create", "-t", "blue", "-b", "10 Mbps", "-d", "5", "-s", "100", "gold");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "Creating netprofile blue:gold\n");
    assert.deepEqual(fake.bodyOf("POST /api/v1/netprofiles/blue:gold/"), {
      profileName: "gold",
      tenantName: "blue",
      bandwidth: "10 Mbps",
      DSCP: 5,
      burst: 100,
    });
  });

  it("Go-style -dscp and -bandwidth work; zero values are omitted", async () => {
    assert.equal((await netctl("netprofile", "create", "-dscp", "3", "-bandwidth", "1Mbps", "p")).code, 0);
    assert.deepEqual(fake.bodyOf("POST /api/v1/netprofiles/default:p/"), {
      profileName: "p",
      tenantName: "default",
      bandwidth: "1Mbps",
      DSCP: 3,
    });
  });

  it("bad integers and missing names are usage errors", async () => {
    const bad = await netctl("netprofile", "create", "-d", "high", "p");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^Error: Option '-d, --dscp <n>' argument 'high' is invalid/);
    for (const verb of ["create", "rm", "inspect"]) {
      assert.equal((await netctl("netprofile", verb)).stderr.split("\n")[0], "Error: Net profile name required");
    }
    assert.deepEqual(fake.calls(), []);
  });

  it("ls normalises bandwidth and shows DSCP and burst", async () => {
    fake.on("GET /api/v1/netprofiles/", {
      json: [
        { tenantName: "default", profileName: "gold", bandwidth: "10 gb", DSCP: 10, burst: 2000 },
        { tenantName: "default", profileName: "plain" },
        { tenantName: "blue", profileName: "x", bandwidth: "1mbps" },
      ],
    });
    const r = await netctl("netprofile", "ls");
    assert.equal(r.code, 0);
    assert.equal(
      r.stdout,
      "Name    Tenant   Bandwidth  DSCP      burst size\n" +
        "------  ------   ---------  --------  ----------\n" +
        "gold    default  10Gbps     10        2000\n" +
        "plain   default             0         0\n",
    );
    assert.equal((await netctl("netprofile", "list", "-a", "-q")).stdout, "gold\nplain\nx\n");
  });

  it("rm and inspect address tenant:profile", async () => {
    assert.equal((await netctl("netprofile", "delete", "gold")).code, 0);
    fake.on("GET /api/v1/inspect/netprofiles/default:gold/", { json: { Config: { profileName: "gold" } } });
    assert.equal((await netctl("netprofile", "inspect", "gold")).stdout, '{\n  "Config": {\n    "profileName": "gold"\n  }\n}\n');
    assert.deepEqual(fake.calls(), ["DELETE /api/v1/netprofiles/default:gold/", "GET /api/v1/inspect/netprofiles/default:gold/"]);
  });
});
