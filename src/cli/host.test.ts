import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import { fakeNetmaster, runNetctl, type FakeNetmaster } from "./testing/fakeNetmaster.js";

describe("netctl host", () => {
  let fake: FakeNetmaster;
  const netctl = (...argv: string[]) => runNetctl(argv, { NETMASTER: fake.url });
  const hosts = [
    { name: "node1", registered: true, vtepIP: "198.18.0.11", mtu: 1500, agentVersion: "1", endpoints: 12, reportedSecondsAgo: 3 },
    { name: "node2", registered: true, vtepIP: "198.18.0.12", mtu: 1500, agentVersion: "1", endpoints: 0, reportedSecondsAgo: null },
    { name: "orphan", registered: false, vtepIP: "", mtu: 0, agentVersion: "", endpoints: 1, reportedSecondsAgo: null },
  ];
  beforeEach(async () => {
    fake = await fakeNetmaster({ "GET /api/v1/agent/hosts/": { json: hosts } });
  });
  afterEach(() => fake.close());

  it("ls prints name, VTEP, endpoints and seconds since the last report, or - for none", async () => {
    const r = await netctl("host", "ls");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "Name    VTEP         Endpoints  Last report (s ago)\n" +
        "----    ----         ---------  -------------------\n" +
        "node1   198.18.0.11  12         3\n" +
        "node2   198.18.0.12  0          -\n" +
        "orphan  -            1          -\n",
    );
  });

  it("ls -q prints the names, -j the hosts as the server sent them", async () => {
    assert.equal((await netctl("host", "list", "-q")).stdout, "node1\nnode2\norphan\n");
    assert.equal((await netctl("host", "ls", "--json")).stdout, JSON.stringify(hosts, null, 2) + "\n");
  });

  it("ls refuses arguments before any request", async () => {
    const r = await netctl("host", "ls", "node1");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: More arguments than required\n/);
    assert.deepEqual(fake.calls(), []);
  });

  it("rm deletes the host and names the endpoints released with it", async () => {
    fake.on("DELETE /api/v1/agent/hosts/node1/", { json: { endpoints: ["net.t-c1", "net.t-c2"] } });
    const r = await netctl("host", "rm", "node1");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "Deleting host node1\nReleased endpoints: net.t-c1, net.t-c2\n");
    assert.deepEqual(fake.calls(), ["DELETE /api/v1/agent/hosts/node1/"]);
  });

  it("rm --force (or -f, or Go's -force) asks for ?force=true", async () => {
    fake.on("DELETE /api/v1/agent/hosts/node1/?force=true", { json: { endpoints: [] } });
    for (const flag of ["--force", "-f", "-force"]) {
      const r = await netctl("host", "delete", flag, "node1");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "Deleting host node1\n");
    }
    assert.deepEqual(fake.calls(), Array(3).fill("DELETE /api/v1/agent/hosts/node1/?force=true"));
  });

  it("rm prints the server's refusal and exits 3", async () => {
    const message = "Cannot remove host node1: its agent reported 3 s ago; stop it first, or remove the host anyway with --force";
    fake.on("DELETE /api/v1/agent/hosts/node1/", { status: 409, text: message });
    const r = await netctl("host", "rm", "node1");
    assert.equal(r.code, 3);
    assert.equal(r.stderr, `Error: ${message}\n`);
  });

  it("rm needs exactly one host name", async () => {
    for (const argv of [[], ["a", "b"]]) {
      const r = await netctl("host", "rm", ...argv);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Error: Host name required\n/);
    }
    assert.deepEqual(fake.calls(), []);
  });

  it("rm keeps a name from adding path segments", async () => {
    fake.on("DELETE /api/v1/agent/hosts/a%2Fb/", { status: 400, text: "Invalid host name: bad" });
    assert.equal((await netctl("host", "rm", "a/b")).code, 3);
    assert.deepEqual(fake.calls(), ["DELETE /api/v1/agent/hosts/a%2Fb/"]);
  });
});
