// Pure: the tbf shapers that carry endpoints' bandwidth limits (DesiredEndpoint.qos) on the OVS datapath, the way
// the Linux driver's do (same rate, burst and TBF_LATENCY), and the tc step that brings one device's root qdisc
// to what is wanted. shapers-tc.ts reads the qdiscs and carries the steps out.
//
// What the container receives: a tbf as root qdisc of the bridge-side end of its veth. OVS transmits to that
// end through the kernel's qdisc: the userspace datapath sends on an AF_PACKET socket, which passes the qdisc
// (measured: qos.kernel.test.ts); the kernel datapath's dev_queue_xmit does too (not measured: no module here). What it sends: nothing on the bridge side can queue it (the userspace datapath's AF_PACKET socket
// takes the packets before tc ingress, so no ifb redirect sees them), so a tbf as root qdisc of the container's
// own interface, in its namespace, where we own that side (containerSide "ours"). Where a runtime owns it
// (Docker), an OpenFlow meter limits what it sends (meters.ts): a policer, rougher than a shaper.

import { sameShaper, tbfArgs } from "../linux/diffEndpoint.js";
import { shaper } from "../linux/render.js";
import type { ObservedQdisc, Shaper } from "../linux/state.js";
import type { WantedPort } from "./wanted-port.js";

export interface EndpointShapers {
  port: WantedPort;
  /** The tbf on the bridge-side end (port.name): what the container receives; null for no limit. */
  bridgeSide: Shaper | null;
  /**
   * The tbf on the container's interface in its namespace: what it sends; null for no limit. Absent where the
   * runtime owns the container side: it is never read or changed (a meter limits what it sends).
   */
  containerSide?: Shaper | null;
}

/** Whether what the endpoint sends is limited by a tbf in its namespace (else, when limited, by a meter). */
export function shapesContainerSide(e: WantedPort["endpoint"]): boolean {
  return e.containerSide !== "runtime";
}

/** The shapers of an endpoint's port: the Linux driver's tbf parameters (burst defaulted from rate and MTU). */
export function endpointShapers(port: WantedPort): EndpointShapers {
  const { egressBps, ingressBps, burstBytes } = port.endpoint.qos;
  const bridgeSide = shaper(ingressBps, burstBytes, port.endpoint.mtu);
  if (!shapesContainerSide(port.endpoint)) return { port, bridgeSide };
  return { port, bridgeSide, containerSide: shaper(egressBps, burstBytes, port.endpoint.mtu) };
}

export interface QdiscStep {
  action: "create" | "update" | "delete";
  /** tc's arguments (after `tc`, and `-n NS` or nsenter where the device lives). */
  args: string[];
}

/**
 * What brings `dev`'s root qdisc (`root`, as observed; undefined: none of its own, noqueue included) to
 * `wanted`: `qdisc replace` of a tbf that differs (or of another root qdisc), `qdisc del` of a tbf nobody wants,
 * nothing when it is right. Only a root tbf is ever removed: other qdiscs are not ours.
 */
export function shaperStep(dev: string, root: ObservedQdisc | undefined, wanted: Shaper | null): QdiscStep | null {
  const tbf = root?.kind === "tbf" ? root : undefined;
  if (wanted === null) return tbf === undefined ? null : { action: "delete", args: ["qdisc", "del", "dev", dev, "root"] };
  if (tbf !== undefined && sameShaper(tbf.shaper, wanted)) return null;
  return { action: tbf === undefined ? "create" : "update", args: tbfArgs(dev, wanted) };
}

/** How a shaper reads in a change: "tbf on DEV (10485760 bit/s, burst 65536 B)". */
export function shaperLabel(dev: string, s: Shaper | null): string {
  return s === null ? `tbf on ${dev}` : `tbf on ${dev} (${s.rateBytes * 8} bit/s, burst ${s.burstBytes} B)`;
}

/**
 * external_ids key of the bridge's one QoS row of type linux-noop, which every endpoint port references: it tells
 * ovs-vswitchd to leave the port's qdiscs alone. Without it, ovs-vswitchd deletes a root qdisc it does not know
 * (our tbf) when it opens the port, as on every start.
 */
export const NOOP_QOS_KEY = "netplugin-bridge";
