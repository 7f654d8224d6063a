import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { PolicyInput } from "../../policy/index.js";
import { PolicyCache, renderPolicy } from "./policies.js";
import { IssueList } from "./validate.js";

const input = (dscp: number): PolicyInput => ({ fwdMode: "routing", networks: [], groups: [{ id: 1, name: "g", ipv4: ["198.18.1.1"], ipv6: [], dscp }], rules: [] });

describe("PolicyCache", () => {
  it("compiles a namespace's policy again only when its input differs", () => {
    const cache = new PolicyCache();
    const first = cache.compile("ns1", input(0));
    assert.equal(cache.compile("ns1", input(0)), first, "same input, a new object: the same result");
    const changed = cache.compile("ns1", input(8));
    assert.notEqual(changed, first);
    assert.notEqual(changed.script, first.script);
    assert.notEqual(cache.compile("ns2", input(8)), changed, "per namespace");
  });

  it("forgets namespaces it is not told to keep", () => {
    const cache = new PolicyCache();
    const kept = cache.compile("ns1", input(0));
    const dropped = cache.compile("ns2", input(0));
    cache.keep(new Set(["ns1"]));
    assert.equal(cache.compile("ns1", input(0)), kept);
    assert.notEqual(cache.compile("ns2", input(0)), dropped);
  });

  it("compiles nothing into the cache when the policy is refused", () => {
    const cache = new PolicyCache();
    const good = cache.compile("ns1", input(0));
    assert.throws(() => cache.compile("ns1", input(99)), /DSCP must be 0..63/);
    assert.equal(cache.compile("ns1", input(0)), good);
  });
});

describe("renderPolicy", () => {
  it("gives the script, or the compiler's issues under the policy's path", () => {
    const cache = new PolicyCache();
    const issues = new IssueList();
    assert.equal(renderPolicy("ns1", input(0), "tenants[0].policy", cache.compile, issues), cache.compile("ns1", input(0)).script);
    assert.equal(renderPolicy("ns1", input(99), "tenants[0].policy", cache.compile, issues), "");
    assert.deepEqual(issues.issues, [{ path: "tenants[0].policy.groups[0].dscp", message: "DSCP must be 0..63, not 99" }]);
  });
});
