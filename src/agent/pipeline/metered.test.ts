import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DatapathDriver } from "../../datapath/index.js";
import { AgentMetrics } from "../metrics.js";
import { meteredDatapath } from "./metered.js";

describe("meteredDatapath", () => {
  it("times every sync and counts its changes and errors, a sync that throws as one error", async () => {
    const metrics = new AgentMetrics({ revision: () => 0, attachments: () => 0 });
    let fail = false;
    const driver: DatapathDriver = {
      check: () => [],
      reconcile: async () => {
        if (fail) throw new Error("boom");
        return { changes: [{ namespace: "n", action: "create", object: "bridge b" }], errors: [{ owner: { tenant: "t" }, namespace: "n", objects: [], message: "x" }] };
      },
    };
    const metered = meteredDatapath(driver, metrics);
    await metered.reconcile({ prefix: "npx", tenants: [], host: { natOutbound: false } }, { full: true });
    fail = true;
    await assert.rejects(metered.reconcile({ prefix: "npx", tenants: [], host: { natOutbound: false } }, { full: false }), /boom/);
    const text = await metrics.registry.metrics();
    assert.match(text, /netplugin_datapath_changes_total 1/);
    assert.match(text, /netplugin_datapath_sync_errors_total 2/);
    assert.match(text, /netplugin_datapath_sync_duration_seconds_count\{kind="full"\} 1/);
    assert.match(text, /netplugin_datapath_sync_duration_seconds_count\{kind="incremental"\} 1/);
  });
});
