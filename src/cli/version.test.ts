import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, it } from "node:test";

import { fakeNetmaster, runNetctl, type FakeNetmaster } from "./testing/fakeNetmaster.js";

describe("netctl version", () => {
  let fake: FakeNetmaster;
  beforeEach(async () => {
    fake = await fakeNetmaster({ "GET /version": { json: { GitCommit: "abc123", Version: "1.2.3", BuildTime: "2024-01-01" } } });
  });
  afterEach(() => fake.close());

  it("prints the client block, a blank line, then the server block", async () => {
    const r = await runNetctl(["version"], { NETMASTER: fake.url, NETPLUGIN_GIT_COMMIT: "c0ffee", NETPLUGIN_BUILD_TIME: "today" });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^Client Version:\nVersion: \S+\nGitCommit: c0ffee\nBuildTime: today\n\nServer Version:\nVersion: 1\.2\.3\nGitCommit: abc123\nBuildTime: 2024-01-01\n$/,
    );
    assert.deepEqual(fake.calls(), ["GET /version"]);
  });

  it("a transport failure exits 2", async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const r = await runNetctl(["version"], { NETMASTER: `http://127.0.0.1:${port}` });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^Error: Unable to fetch version information: GET http:\/\/127\.0\.0\.1:\d+\/version: connect ECONNREFUSED/);
  });

  it("a server error exits 3; extra arguments are a usage error", async () => {
    fake.on("GET /version", { status: 503, text: "not the leader" });
    const r = await runNetctl(["version"], { NETMASTER: fake.url });
    assert.equal(r.code, 3);
    assert.equal(r.stderr, "Error: Unable to fetch version information: not the leader\n");
    assert.equal((await runNetctl(["version", "x"], { NETMASTER: fake.url })).code, 1);
  });
});
