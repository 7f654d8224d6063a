// What the datapath should do with Docker's endpoints, given that dockerd
// owns their container side once it has it (handoff.ts). Applied to the
// compiled host right before each datapath run, under the kernel lock:
//
// - staging: plumbed like any other, only without default routes: container
//   sides of concurrent Joins share the staging namespace, which has room for
//   one default route (and dockerd sets the routes in the sandbox anyway);
// - joined: the container side is checked as usual, but the default routes
//   are the ones dockerd put there (it moves a sandbox's default route between
//   its networks as they come and go);
// - in transit, leaving, or in a sandbox where another of our endpoints is:
//   hands off. The datapath has no "leave this container side alone" yet, so
//   the endpoint is pointed at `lo` of our staging namespace: an existing link
//   that is not the veth's peer, which the datapath reports as a problem and
//   never touches (the veth is kept: its host side is still wanted). Those
//   expected problems are dropped from the report.
//
// A dedicated DesiredEndpoint flag in the datapath ("container side owned by
// the runtime: create it once in netns as ifname, never configure or re-create
// it") would replace the `lo` trick and the route mirroring.

import { existsSync } from "node:fs";
import type { DesiredHost } from "../../datapath/types.js";
import type { DatapathError } from "../reconciler.js";
import type { DockerStore, EndpointRecord } from "./state.js";

const HANDS_OFF_IFNAME = "lo";

function busySandboxes(store: DockerStore): Set<string> {
  const busy = new Set<string>();
  for (const e of store.endpoints.values()) if (e.sandbox && (e.phase === "transit" || e.phase === "leaving")) busy.add(e.sandbox);
  return busy;
}

function handsOff(e: EndpointRecord, busy: Set<string>): boolean {
  if (e.phase === "transit" || e.phase === "leaving") return true;
  if (e.phase !== "joined") return false;
  return busy.has(e.sandbox) || !existsSync(e.sandbox);
}

/** The desired host with Docker's endpoints adjusted; `untouched` holds the netmaster ids left alone. */
export function adjustDesired(desired: DesiredHost, store: DockerStore, stagingPath: string): { desired: DesiredHost; untouched: Set<string> } {
  if (store.endpoints.size === 0) return { desired, untouched: new Set() };
  const busy = busySandboxes(store);
  const untouched = new Set<string>();
  const tenants = desired.tenants.map((t) => ({
    ...t,
    endpoints: t.endpoints.map((e) => {
      const net = t.networks.find((n) => n.name === e.network);
      const rec = store.byEndpointId(e.id);
      // Where the container side is comes from the record, not from the compiled attachment: the host was
      // compiled before this run got the lock, and a hand-over may have happened in between.
      if (!rec || rec.phase === "created") return e;
      if (rec.phase === "staging") return { ...e, netns: stagingPath, ifname: rec.srcName, gateway: "", ipv6Gateway: "" };
      if (handsOff(rec, busy)) {
        untouched.add(e.id);
        return { ...e, netns: stagingPath, ifname: HANDS_OFF_IFNAME };
      }
      return {
        ...e,
        netns: rec.sandbox,
        ifname: rec.ifname,
        // The network's gateways, not the compiled ones: which interface carries the default route is dockerd's call.
        gateway: rec.routes.v4 ? (net?.gateway ?? e.gateway) : "",
        ipv6Gateway: rec.routes.v6 ? (net?.ipv6Gateway ?? e.ipv6Gateway) : "",
      };
    }),
  }));
  return { desired: { ...desired, tenants }, untouched };
}

/** Drops the problems the datapath reports for endpoints it was told to leave alone. */
export function filterErrors(errors: DatapathError[], untouched: Set<string>): DatapathError[] {
  if (untouched.size === 0) return errors;
  const expected = new Set([...untouched].map((id) => `endpoint ${id}`));
  return errors.filter((e) => e.objects.length === 0 || !e.objects.every((o) => expected.has(o)));
}
