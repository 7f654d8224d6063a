// Offload features of the devices we make in a tenant namespace (the host-side veth of each endpoint, the
// VXLAN device of each network), chosen by measurement (bench/offloads.ts, README "Offloads"): what each kind
// wants, how `ethtool -k` output reads, and the `ethtool -K` step that brings a device back to it. The kernel
// makes both kinds this way already; a feature changed behind our back (by hand, by a tuning script) is
// converged back by a run that reads the tenant whole (a full run). A feature the kernel marks [fixed] is
// never asked for.

import type { StepBuilder } from "./stepBuilder.js";
import type { DeviceFeatures, TenantState } from "./state.js";

/** The features we set, by the name `ethtool -k` prints. */
export type OffloadFeature = "generic-receive-offload" | "generic-segmentation-offload" | "tcp-segmentation-offload" | "tx-checksumming";

/** `ethtool -K` calls them by these short names. */
const SHORT_NAME: Record<OffloadFeature, string> = {
  "generic-receive-offload": "gro",
  "generic-segmentation-offload": "gso",
  "tcp-segmentation-offload": "tso",
  "tx-checksumming": "tx",
};

export type OffloadDeviceKind = "veth" | "vxlan";

/**
 * What each kind of device wants (true: on), which is what kernel 6.18 makes. Measured (bench/offloads.ts, TCP, one
 * CPU, three runs on a noisy shared machine; README "Offloads"): TSO+GSO or tx checksumming off (tx off takes TSO and
 * scatter-gather down with it) cost 30–70% on every path (mostly); GRO off on the VXLAN devices 2–12%; GRO on veths never
 * helped beyond noise and was 15–26% slower in five of nine rows over three passes (it puts the veth on its NAPI path: one more queue for
 * super-packets the sender already built). The underlay's tx-udp_tnl-segmentation matters too (off: 0.79–0.95) but
 * is the host NIC's, not a device we make: not set here.
 */
export const WANTED_OFFLOADS: Record<OffloadDeviceKind, Record<OffloadFeature, boolean>> = {
  veth: { "generic-receive-offload": false, "generic-segmentation-offload": true, "tcp-segmentation-offload": true, "tx-checksumming": true },
  vxlan: { "generic-receive-offload": true, "generic-segmentation-offload": true, "tcp-segmentation-offload": true, "tx-checksumming": true },
};


/**
 * `ethtool -k DEV` output, one or more devices one after the other ("Features for DEV:" starts each), into
 * device → feature → state. Sub-features (indented) are kept under their own names. Lines that are not a
 * feature are skipped.
 */
export function parseFeatures(text: string): Record<string, DeviceFeatures> {
  const out: Record<string, DeviceFeatures> = {};
  let current: DeviceFeatures | undefined;
  for (const line of text.split("\n")) {
    const head = /^Features for (\S+):$/.exec(line.trim());
    if (head !== null) {
      current = {};
      out[head[1]!] = current;
      continue;
    }
    const m = /^\s*([A-Za-z0-9_-]+): (on|off)( \[fixed\])?/.exec(line);
    if (m !== null && current !== undefined) current[m[1]!] = { on: m[2] === "on", fixed: m[3] !== undefined };
  }
  return out;
}

/** The devices of a tenant namespace whose features we keep, with their kind and the unit they belong to. */
export function offloadDevices(tenant: TenantState): { device: string; kind: OffloadDeviceKind; network: string; endpoint?: string }[] {
  return [
    ...tenant.vxlans.map((v) => ({ device: v.device, kind: "vxlan" as const, network: v.network })),
    ...tenant.endpoints.map((e) => ({ device: e.hostLink, kind: "veth" as const, network: e.network, endpoint: e.id })),
  ];
}

/** The `ethtool -K` arguments that bring `have` to what `kind` wants; empty when nothing (changeable) differs. */
export function offloadChange(device: string, kind: OffloadDeviceKind, have: DeviceFeatures): string[] {
  const args: string[] = [];
  for (const [feature, on] of Object.entries(WANTED_OFFLOADS[kind]) as [OffloadFeature, boolean][]) {
    const cur = have[feature];
    if (cur === undefined || cur.fixed || cur.on === on) continue;
    args.push(SHORT_NAME[feature], on ? "on" : "off");
  }
  return args.length === 0 ? [] : ["-K", device, ...args];
}

/**
 * Plans an `ethtool -K` step for each of the tenant's devices whose features were read and differ from what
 * its kind wants. `have` undefined (not read in this run): nothing. A device not in `have` (not made yet, or
 * gone) is left to the run that reads it.
 */
export function diffOffloads(b: StepBuilder, want: TenantState, have: Record<string, DeviceFeatures> | undefined): void {
  if (have === undefined) return;
  for (const d of offloadDevices(want)) {
    const features = have[d.device];
    if (features === undefined) continue;
    const args = offloadChange(d.device, d.kind, features);
    if (args.length === 0) continue;
    const owner = { tenant: want.tenant, network: d.network, ...(d.endpoint === undefined ? {} : { endpoint: d.endpoint }) };
    b.unit(owner).ethtool(`offloads of ${d.kind} ${d.device}`, args);
  }
}

/**
 * One process reads every named device of a namespace: `ethtool -k` each in turn (a device that is gone prints
 * nothing). ethtool is checked at start (features.ts).
 */
export function readFeaturesArgv(devices: string[]): string[] {
  return ["sh", "-c", 'for d; do ethtool -k "$d" 2>/dev/null; done; exit 0', "sh", ...devices];
}
