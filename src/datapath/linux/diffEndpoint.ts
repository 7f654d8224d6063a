// Pure: the steps that bring one endpoint (veth pair, container side, shapers) from what
// was observed to what was rendered. Part of diff.ts, split out by kernel object. An endpoint
// whose container side is a runtime's (Docker's) gets host-side steps only.

import { TBF_LATENCY } from "./render.js";
import type { StepBuilder } from "./stepBuilder.js";
import type { EndpointState, ObservedContainer, ObservedTenant, ObservedVeth, Shaper } from "./state.js";

/** tc stores the burst as a time at the rate, so it reads back a few bytes off. */
export function sameShaper(observed: Shaper | null, wanted: Shaper): boolean {
  if (observed === null) return false;
  const slack = Math.max(2, Math.ceil(wanted.burstBytes * 0.01));
  return observed.rateBytes === wanted.rateBytes && Math.abs(observed.burstBytes - wanted.burstBytes) <= slack;
}

export function tbfArgs(dev: string, shaper: Shaper): string[] {
  return [
    "qdisc", "replace", "dev", dev, "root", "handle", "1:", "tbf",
    "rate", `${shaper.rateBytes * 8}bit`, "burst", `${shaper.burstBytes}b`, "latency", TBF_LATENCY,
  ];
}

function addressArgs(verb: "add" | "del", address: string, dev: string): string[] {
  // nodad: an IPv6 address is usable at once instead of after ~1 s of duplicate detection.
  const nodad = verb === "add" && address.includes(":") ? ["nodad"] : [];
  return ["addr", verb, address, "dev", dev, ...nodad];
}

/** The endpoint's veth pair exists and its two ends are each other's peer. */
function isPaired(observed: ObservedTenant, endpoint: EndpointState, container: ObservedContainer): boolean {
  const veth = observed.veths.find((v) => v.name === endpoint.hostLink);
  const link = container.link;
  return (
    veth !== undefined &&
    link !== null &&
    link.kind === "veth" &&
    link.peerIfindex === veth.ifindex &&
    veth.peerIfindex === link.ifindex
  );
}

/** Makes the veth pair, the container end in `netns` as `ifname` (down), the host side a port of the bridge. */
function createPair(b: StepBuilder, endpoint: EndpointState): void {
  const { hostLink, container: want } = endpoint;
  b.ip("veth", "create", `veth ${hostLink}`, [
    "link", "add", hostLink, "mtu", String(endpoint.mtu), "type", "veth",
    "peer", "name", want.ifname, "address", want.mac, "mtu", String(want.mtu), "netns", want.netns,
  ]);
  b.ip("veth", "create", `veth ${hostLink}`, ["link", "set", hostLink, "master", endpoint.bridge, "up"]);
  if (endpoint.hairpin) b.ip("veth", "create", `veth ${hostLink}`, hairpinArgs(endpoint));
}

/** Port flags take effect only on a port: a separate command after `master`. */
function hairpinArgs(endpoint: EndpointState): string[] {
  return ["link", "set", endpoint.hostLink, "type", "bridge_slave", "hairpin", endpoint.hairpin ? "on" : "off"];
}

function updateHostSide(b: StepBuilder, endpoint: EndpointState, veth: ObservedVeth): void {
  const set: string[] = [];
  if (veth.mtu !== endpoint.mtu) set.push("mtu", String(endpoint.mtu));
  if (veth.master !== endpoint.bridge) set.push("master", endpoint.bridge);
  if (!veth.up) set.push("up");
  if (set.length > 0) b.ip("veth", "update", `veth ${endpoint.hostLink}`, ["link", "set", endpoint.hostLink, ...set]);
  // A port moved to another bridge starts with the flag off.
  const hairpin = veth.master === endpoint.bridge && veth.hairpin;
  if (hairpin !== endpoint.hairpin) b.ip("veth", "update", `veth ${endpoint.hostLink}`, hairpinArgs(endpoint));
}

/**
 * An endpoint whose container side is the runtime's: its host side alone. A veth lives as long as both its
 * ends, so the host side being there says the container side is too, wherever the runtime has put it.
 */
function diffRuntimeEndpoint(b: StepBuilder, observed: ObservedTenant, endpoint: EndpointState): void {
  const veth = observed.veths.find((v) => v.name === endpoint.hostLink);
  if (veth === undefined) createPair(b, endpoint);
  else updateHostSide(b, endpoint, veth);
  diffShapers(b, observed, endpoint, veth === undefined);
}

/**
 * Plans one endpoint. Returns false when it planned nothing because the container side cannot be
 * reached or is not ours (recorded as a problem).
 */
export function diffEndpoint(b: StepBuilder, observed: ObservedTenant, endpoint: EndpointState): boolean {
  if (endpoint.containerSide === "runtime") {
    diffRuntimeEndpoint(b, observed, endpoint);
    return true;
  }
  const { hostLink, container: want } = endpoint;
  const name = `endpoint ${endpoint.id}`;
  const container = observed.containers.find((c) => c.hostLink === hostLink && c.netns === want.netns);
  if (container === undefined) {
    b.problem(name, `container namespace "${want.netns}" was not observed`);
    return false;
  }
  if (container.netnsMissing) {
    b.problem(name, `container namespace "${want.netns}" does not exist`);
    return false;
  }
  const veth = observed.veths.find((v) => v.name === hostLink);
  const paired = isPaired(observed, endpoint, container);
  if (!paired && container.link !== null) {
    b.problem(name, `interface "${want.ifname}" in "${want.netns}" exists and is not the peer of "${hostLink}"`);
    return false;
  }

  // --- veth (tenant side) ---
  if (!paired) {
    if (veth !== undefined) b.deleteLink("veth", `veth ${hostLink} (peer gone)`, hostLink);
    createPair(b, endpoint);
  } else if (veth !== undefined) {
    updateHostSide(b, endpoint, veth);
  }

  // --- container side ---
  const link = paired ? container.link : null;
  const where = `${want.ifname} in ${want.netns}`;
  const set: string[] = [];
  if (link !== null && link.mac !== want.mac) set.push("address", want.mac);
  if (link !== null && link.mtu !== want.mtu) set.push("mtu", String(want.mtu));
  if (link === null || !link.up) set.push("up");
  if (set.length > 0) {
    b.containerIp("container", link === null ? "create" : "update", `interface ${where}`, want.netns, ["link", "set", want.ifname, ...set]);
  }
  // One phase for the whole container side, so a new container is configured by one process: a route goes
  // before the address it uses, and comes after it.
  const haveRoutes = paired ? container.routes : [];
  for (const route of haveRoutes.filter((r) => !want.routes.some((w) => w.family === r.family && w.via === r.via))) {
    b.containerIp("container", "delete", `default route via ${route.via} on ${where}`, want.netns, ["route", "del", "default", "via", route.via, "dev", want.ifname]);
  }
  const have = link?.addresses ?? [];
  for (const address of have.filter((a) => !want.addresses.includes(a))) {
    b.containerIp("container", "delete", `address ${address} on ${where}`, want.netns, addressArgs("del", address, want.ifname));
  }
  for (const address of want.addresses.filter((a) => !have.includes(a))) {
    b.containerIp("container", "create", `address ${address} on ${where}`, want.netns, addressArgs("add", address, want.ifname));
  }
  for (const route of want.routes.filter((w) => !haveRoutes.some((r) => r.family === w.family && r.via === w.via))) {
    b.containerIp("container", "create", `default route via ${route.via} on ${where}`, want.netns, ["route", "add", "default", "via", route.via, "dev", want.ifname]);
  }

  diffShapers(b, observed, endpoint, !paired);
  return true;
}

/** Shapers of one endpoint; `fresh` = its veth is created by this plan, so it has no qdisc yet. */
function diffShapers(b: StepBuilder, observed: ObservedTenant, endpoint: EndpointState, fresh: boolean): void {
  const { hostLink } = endpoint;
  const qdiscs = fresh ? [] : observed.qdiscs.filter((q) => q.dev === hostLink);
  const root = qdiscs.find((q) => q.root);

  // What the container receives: the host link's root qdisc.
  if (endpoint.ingressLimit !== null) {
    if (!(root?.kind === "tbf" && sameShaper(root.shaper, endpoint.ingressLimit))) {
      b.tc(root?.kind === "tbf" ? "update" : "create", `tbf on ${hostLink}`, tbfArgs(hostLink, endpoint.ingressLimit));
    }
  } else if (root !== undefined && root.kind !== "noqueue") {
    b.tc("delete", `${root.kind} on ${hostLink}`, ["qdisc", "del", "dev", hostLink, "root"]);
  }

  // What the container sends: host link ingress → mirred → ifb whose root is a tbf.
  const ingress = qdiscs.find((q) => q.kind === "ingress");
  const egress = endpoint.egressLimit;
  if (egress === null) {
    if (ingress !== undefined) b.tc("delete", `ingress on ${hostLink}`, ["qdisc", "del", "dev", hostLink, "ingress"]);
    return; // its ifb, if any, goes with the stale ifbs (diff.ts)
  }
  const ifb = observed.ifbs.find((i) => i.name === egress.ifb);
  if (ifb === undefined) {
    b.ip("veth", "create", `ifb ${egress.ifb}`, ["link", "add", egress.ifb, "mtu", String(endpoint.mtu), "type", "ifb"]);
    b.ip("veth", "create", `ifb ${egress.ifb}`, ["link", "set", egress.ifb, "up"]);
  } else if (ifb.mtu !== endpoint.mtu || !ifb.up) {
    b.ip("veth", "update", `ifb ${egress.ifb}`, ["link", "set", egress.ifb, "mtu", String(endpoint.mtu), "up"]);
  }
  const ifbRoot = ifb === undefined ? undefined : observed.qdiscs.find((q) => q.dev === egress.ifb && q.root);
  if (!(ifbRoot?.kind === "tbf" && sameShaper(ifbRoot.shaper, egress.shaper))) {
    b.tc(ifbRoot?.kind === "tbf" ? "update" : "create", `tbf on ${egress.ifb}`, tbfArgs(egress.ifb, egress.shaper));
  }
  const redirects = observed.redirects.filter((r) => r.dev === hostLink);
  const redirectRight = ingress !== undefined && redirects.length === 1 && redirects[0]!.toDev === egress.ifb;
  if (!redirectRight) {
    if (ingress !== undefined) b.tc("delete", `ingress on ${hostLink}`, ["qdisc", "del", "dev", hostLink, "ingress"]);
    b.tc("create", `ingress on ${hostLink}`, ["qdisc", "add", "dev", hostLink, "handle", "ffff:", "ingress"]);
    b.tc("create", `redirect ${hostLink} to ${egress.ifb}`, [
      "filter", "add", "dev", hostLink, "parent", "ffff:", "protocol", "all", "prio", "1",
      "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev", egress.ifb,
    ]);
  }
}
