// The tables as one host of a datapath that splits the enforce chain sees them. The Linux datapath's filter
// runs the whole chain (the sender's `out` rules, then the receiver's `in` rules) on every host whose bridge it
// sees; the OVS datapath (datapath/ovs/policy-flows.ts) judges `out` rules only where the sender is local (not
// for packets from the tunnel or the gateway namespace) and `in` rules only where the receiver is. tracePacket()
// on these tables is that host's walk: both ends meet the same rules, each on one host.

import type { PolicyTables } from "./types.js";

/** Pure. The tables without the `out` rules (`out: false`) or the `in` rules (`in: false`). */
export function splitChainTables(t: PolicyTables, judges: { out: boolean; in: boolean }): PolicyTables {
  return {
    ...t,
    outGroups4: judges.out ? t.outGroups4 : [],
    outGroups6: judges.out ? t.outGroups6 : [],
    inGroups4: judges.in ? t.inGroups4 : [],
    inGroups6: judges.in ? t.inGroups6 : [],
  };
}
