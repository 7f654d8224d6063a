import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { errorText, NetmasterClient, resolveNetmasterUrl } from "./client.js";
import { ServerError, UsageError } from "./errors.js";
import { fakeNetmaster, type FakeNetmaster } from "./testing/fakeNetmaster.js";

describe("resolveNetmasterUrl", () => {
  const ok: Array<[flag: string | undefined, env: string | undefined, want: string]> = [
    [undefined, undefined, "http://netmaster:9999"],
    [undefined, "", "http://netmaster:9999"],
    [undefined, "http://10.0.0.1:9999", "http://10.0.0.1:9999"],
    ["https://proxy:10000/", "http://ignored:1", "https://proxy:10000"],
    ["netmaster:9999", undefined, "http://netmaster:9999"],
    ["127.0.0.1:9999", undefined, "http://127.0.0.1:9999"],
    ["[::1]:9999", undefined, "http://[::1]:9999"],
    ["localhost", undefined, "http://localhost"],
  ];
  for (const [flag, env, want] of ok) {
    it(`${flag ?? "(no flag)"} / NETMASTER=${env ?? "(unset)"} → ${want}`, () => {
      assert.equal(resolveNetmasterUrl(flag, { NETMASTER: env }), want);
    });
  }
  for (const bad of ["ftp://x:1", "netmaster:9999/api", "http//x", "mailto:x@y"]) {
    it(`refuses ${bad}`, () => {
      assert.throws(() => resolveNetmasterUrl(bad, {}), (err: unknown) => {
        assert.ok(err instanceof UsageError);
        assert.match(err.message, /^Error connecting to netmaster: invalid URL/);
        return true;
      });
    });
  }
});

describe("NetmasterClient", () => {
  let fake: FakeNetmaster;
  let client: NetmasterClient;
  before(async () => {
    fake = await fakeNetmaster({
      "GET /api/v1/networks/": { json: [{ key: "a:b" }] },
      "DELETE /api/v1/networks/a:gone/": { status: 404, text: 'network "a:gone" not found' },
    });
    client = new NetmasterClient({ baseUrl: fake.url + "/" });
  });
  after(() => fake.close());

  it("lists, posts JSON and encodes keys without touching the colons", async () => {
    assert.deepEqual(await client.list("networks"), [{ key: "a:b" }]);
    await client.post("networks", "a:b c/d", { networkName: "b" });
    assert.deepEqual(fake.requests.at(-1), { method: "POST", path: "/api/v1/networks/a:b%20c%2Fd/", body: { networkName: "b" } });
  });

  it("a 404 on DELETE is an error carrying the server's message", async () => {
    await assert.rejects(client.delete("networks", "a:gone"), (err: unknown) => {
      assert.ok(err instanceof ServerError);
      assert.equal(err.status, 404);
      assert.equal(err.message, 'network "a:gone" not found');
      return true;
    });
  });
});

describe("errorText", () => {
  const cases: Array<[string, string]> = [
    ['tenant "x" not found\n', 'tenant "x" not found'],
    ['"tenant not found"', "tenant not found"],
    ['{"message":"bad subnet"}', "bad subnet"],
    ['{"Err":"docker style"}', "docker style"],
    ['{"other":1}', '{"other":1}'],
    ["{not json", "{not json"],
    ["", ""],
  ];
  for (const [body, want] of cases) it(`${JSON.stringify(body)} → ${JSON.stringify(want)}`, () => assert.equal(errorText(body), want));
});
