// Pure: the steps for a tenant's services table (renderServices.ts) and for the conntrack entries of the
// providers it no longer sends to. Part of diff.ts, split out by concern.
//
// Why entries are deleted: a flow DNATed to a provider goes there for as long as its conntrack entry lives,
// whatever the table says now. When a provider leaves a service port (it leaves the service, the service or
// the port goes, the target port changes) two kinds of entry keep sending there:
//  - UDP: every flow it had goes on to it (30 s, 120 s once it is a stream), to a provider that may be gone
//    or whose address may be someone else's by now;
//  - TCP not yet established: a new connection that reuses the tuple of a SYN_SENT entry (120 s; a SYN a
//    policy dropped, or sent while the provider went away) or a SYN_RECV one is taken for a retransmission
//    and sent there too (Linux picks the source ports for one destination from a sequence, so reuse is not
//    rare). In TIME_WAIT and CLOSE the kernel starts a new entry for a new SYN by itself.
// So once the table has changed, the UDP entries and the SYN_SENT and SYN_RECV TCP entries whose original
// destination is that VIP, port and protocol and whose reply source is that provider's address and target
// port are deleted, of both families (the addresses say which). A UDP flow to it moves to a provider that
// stays with its next datagram. Established TCP connections are left alone, as the README promises: a
// change never cuts a running connection (one to a provider that is gone ends as it would without us).
// Entries of providers that stay, and those of other services to the same address, are not touched.
// Nothing is deleted when no provider left.
//
// What left is read from the kernel, not remembered: observe.ts reads the table that is about to change
// (ObservedTenant.lbBackends), so a restarted agent deletes the entries of what the table it finds still
// sends to. Only a deletion that failed is remembered (DiffOptions.unflushed, by the driver), and planned
// again until it takes, unless that provider is back; a restart forgets it, and those entries then live
// until they time out. The deletions run even when the table's change fails in the same run: they touch
// only providers that are leaving, and the next run plans them again.

import type { Step } from "./plan.js";
import { backendKey, LB_TABLE } from "./renderServices.js";
import { diffOwnedTable } from "./diffOverlay.js";
import type { StepBuilder } from "./stepBuilder.js";
import type { ObservedTenant, ServiceBackend, TenantState } from "./state.js";
import { compareText } from "./validate.js";

/** The TCP states whose entries a new connection's SYN would follow to the provider (see above). */
const UNESTABLISHED = ["SYN_SENT", "SYN_RECV"] as const;

/** A backend's entries to delete: one line of `conntrack -R -` each ("-D …"), with the state it is for, if any. */
export function conntrackLines(b: ServiceBackend): Array<{ state: string | null; args: string[] }> {
  const args = [
    "-D", "-p", b.protocol, "--orig-dst", b.vip, "--orig-port-dst", String(b.port),
    "--reply-src", b.address, "--reply-port-src", String(b.targetPort),
  ];
  return b.protocol === "udp" ? [{ state: null, args }] : UNESTABLISHED.map((state) => ({ state, args: [...args, "--state", state] }));
}

function endpointText(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * Replaces or deletes the services table when its tag differs, then deletes the conntrack entries (see above)
 * of the backends the old table had and the new one has not, and plans again those of `unflushed` (deletions
 * that failed before) whose backend is still not wanted.
 */
export function diffServices(b: StepBuilder, want: TenantState, have: ObservedTenant, unflushed: readonly Step[]): void {
  diffOwnedTable(b, want.lbTable, { family: "inet", name: LB_TABLE }, have.lbTag);
  const planned = new Set(want.lbBackends.flatMap((backend) => conntrackLines(backend).map((line) => line.args.join(" "))));
  const flush = (object: string, args: string[]): void => {
    const key = args.join(" ");
    if (planned.has(key)) return;
    planned.add(key);
    b.conntrack(object, args);
  };
  const left = [...(have.lbBackends ?? [])].sort((x, y) => compareText(backendKey(x), backendKey(y)));
  for (const backend of left) {
    const what = `conntrack entries ${endpointText(backend.vip, backend.port)}/${backend.protocol} → ${endpointText(backend.address, backend.targetPort)}`;
    for (const { state, args } of conntrackLines(backend)) flush(state === null ? what : `${what} ${state}`, args);
  }
  for (const step of unflushed) flush(step.object, step.args);
}
