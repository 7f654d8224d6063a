import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TenantDnsServers } from "./tenants.js";

describe("TenantDnsServers", () => {
  const records = { services: [], groups: [], endpoints: [] };
  const calls: string[] = [];
  const servers = new TenantDnsServers(
    { ensure: (ns, c) => calls.push(`ensure ${ns} ${c.addresses.join(",")} via ${c.upstream.join(",")}`), remove: (ns) => calls.push(`remove ${ns}`) },
    ["10.0.0.53"],
  );

  it("runs a server per tenant with an address, updates it, and stops the ones no longer wanted", () => {
    servers.apply([
      { namespace: "a", addresses: ["198.18.1.254"], records },
      { namespace: "b", addresses: [], records },
    ]);
    servers.apply([{ namespace: "a", addresses: ["198.18.1.254", "fd00:1::fe"], records }]);
    servers.apply([]);
    assert.deepEqual(calls, ["ensure a 198.18.1.254 via 10.0.0.53", "ensure a 198.18.1.254,fd00:1::fe via 10.0.0.53", "remove a"]);
  });
});
