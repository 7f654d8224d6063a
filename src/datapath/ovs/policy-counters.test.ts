import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { policyRuleCounters } from "./policy-counters.js";

describe("policyRuleCounters", () => {
  it("sums a rule's verdict flows of one tenant and ignores the rest", () => {
    const dump = [
      "OFPST_FLOW reply (OF1.5) (xid=0x4):",
      " cookie=0x100056e70, duration=1.2s, table=31, n_packets=2, n_bytes=84, priority=300,reg1=0x1,reg2=0x11,reg3=0x35,reg6=0x5 actions=set_field:0x1->reg4",
      " cookie=0x100056e70, duration=1.2s, table=31, n_packets=1, n_bytes=60, priority=200,reg1=0x2,reg2=0x11,reg6=0x5 actions=set_field:0x1->reg4",
      " cookie=0x200056e70, duration=1.2s, table=31, n_packets=0, n_bytes=0, priority=50,reg1=0x3,reg6=0x5 actions=set_field:0->reg4",
      // No rule (structural flow), another tenant, another owner's cookie.
      " cookie=0x56e70, duration=1.2s, table=31, n_packets=9, n_bytes=900, priority=0,reg6=0x5 actions=set_field:0->reg4",
      " cookie=0x100066e70, duration=1.2s, table=31, n_packets=7, n_bytes=700, priority=50,reg1=0x3,reg6=0x6 actions=set_field:0->reg4",
      " cookie=0x100050001, duration=1.2s, table=31, n_packets=5, n_bytes=500, actions=drop",
    ].join("\n");
    const got = policyRuleCounters(dump, 5, ["t:p:a", "t:p:b", "t:p:c"]);
    assert.deepEqual(
      [...got],
      [
        ["t:p:a", { packets: 3, bytes: 144 }],
        ["t:p:b", { packets: 0, bytes: 0 }],
        ["t:p:c", { packets: 0, bytes: 0 }],
      ],
    );
  });
});
