import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pino from "pino";
import type { BgpConfig } from "./config.js";
import { HostBgp } from "./host.js";

describe("HostBgp", () => {
  const config: BgpConfig = { routerIp: "198.18.9.1/24", as: "65001", neighbor: "198.18.9.2", neighborAs: "65000", announce: [] };

  it("stops a speaker left from before once, then leaves an unconfigured one alone", async () => {
    const applied: (BgpConfig | undefined)[] = [];
    const bgp = new HostBgp({ apply: async (c) => void applied.push(c), inspect: async () => ({ neighborStatus: "", adminStatus: "", numRoutes: 0, routes: [] }) }, pino({ level: "silent" }));
    await bgp.apply(undefined);
    await bgp.apply(undefined);
    await bgp.apply(config);
    await bgp.apply(config);
    await bgp.apply(undefined);
    await bgp.apply(undefined);
    assert.deepEqual(applied, [undefined, config, config, undefined]);
  });
});
