// Direct attachments (NIC attach modes): a container joins its network without a veth and bridge, on an
// interface made on a host interface (macvlan bridge mode, ipvlan L2) or on a whole host interface moved
// into its namespace (host-device: a NIC or an SR-IOV virtual function, sriov.ts). This file makes
// the decisions for one attachment, as the bridge path's render and diff do: renderAttachment() (its desired
// state), planAttachment() / planRelease() (what differs from what direct.ts observed, as plan Steps that
// apply.ts runs). All pure. What is already right gets no step: a run that finds the attachment as it left it
// changes nothing (no qdisc re-added, no table reloaded and its counters reset).
//
// Nothing of the tenant namespace sees these packets: they go from the container straight to the host
// interface's segment (macvlan/ipvlan: also straight to the other containers on that interface). So what
// the bridge path does in the tenant namespace is done inside the container's namespace, the one place
// every packet of the container passes: the tenant's policy, compiled by the same compiler into the same
// `table inet netplugin` (its input and output hooks judge what the container receives and sends), and the
// bandwidth limits as tc on the container's interface (what it sends: a tbf as its root qdisc; what it
// receives: ingress → mirred → an ifb in the container namespace with a tbf, the kernel having no police
// action). A process in the container with CAP_NET_ADMIN can undo both: the README says so.

import { NFT_TABLE } from "../names.js";
import type { PolicyInput } from "../../policy/index.js";
import { ValidationError } from "../../lib/errors.js";
import type { EndpointQos } from "../types.js";
import { canonicalCidr, canonicalIp, canonicalMac, familyOf } from "./addr.js";
import { POLICY_NFT_OBJECT } from "./diff.js";
import { sameShaper, tbfArgs } from "./diffEndpoint.js";
import type { Action, StepTarget } from "./plan.js";
import type { PolicyCompiler } from "./policies.js";
import { shaper } from "./render.js";
import type { HostDeviceInfo } from "./sriov.js";
import type { DefaultRoute, ObservedQdisc, ObservedRedirect, Shaper } from "./state.js";
import type { StepBuilder } from "./stepBuilder.js";
import { IFNAME, IssueList, TOKEN } from "./validate.js";

export type DirectMode = "macvlan" | "ipvlan" | "host-device";

export interface DesiredAttachment {
  /** Endpoint id, for errors. */
  id: string;
  mode: DirectMode;
  /** macvlan/ipvlan: the host interface (the uplink) it sits on; host-device: the host interface moved in. */
  hostIf: string;
  /** The container's network namespace (a path). */
  netns: string;
  ifname: string;
  /** macvlan: the interface's MAC. ipvlan shares the uplink's MAC and host-device keeps its own: ignored there. */
  mac: string;
  /** 0: the host interface's. */
  mtu: number;
  /** "a.b.c.d/len" */
  ipv4: string;
  /** "addr/len" or "". */
  ipv6: string;
  gateway: string;
  ipv6Gateway: string;
  qos: EndpointQos;
  /** The tenant's policy, enforced in the container's namespace; absent: no table there. */
  policy?: PolicyInput;
  /** The tenant's namespace: its direct attachments share one entry of the policy cache. */
  tenantNamespace: string;
}

/**
 * The policy cache key of a tenant's policy as its direct attachments enforce it: compiled without the
 * tenant's bridges, so its input differs from the tenant table's and needs an entry of its own.
 */
export function directPolicyKey(tenantNamespace: string): string {
  return `${tenantNamespace} direct`;
}

/** The ifb that carries what the container receives to its shaper: inside the container's namespace. */
export const ATTACH_IFB = "nifb0";

export interface AttachState {
  id: string;
  mode: DirectMode;
  hostIf: string;
  netns: string;
  ifname: string;
  mac: string | null;
  mtu: number;
  addresses: string[];
  routes: { family: 4 | 6; via: string }[];
  /** What the container sends / receives. */
  egress: Shaper | null;
  ingress: Shaper | null;
  /** `nft -f -` script for the container's namespace, or null. */
  nftScript: string | null;
}

/** The desired state of one attachment, or the list of what is wrong with it. Pure (`compile` caches). */
export function renderAttachment(a: DesiredAttachment, compile: PolicyCompiler): AttachState {
  const issues = new IssueList();
  issues.name("hostIf", a.hostIf, IFNAME, "interface name");
  issues.name("ifname", a.ifname, IFNAME, "interface name");
  issues.name("netns", a.netns, TOKEN, "namespace path");
  if (!a.netns.startsWith("/")) issues.add("netns", `namespace path "${a.netns}" is not absolute`);
  if (a.ifname === ATTACH_IFB) issues.add("ifname", `"${ATTACH_IFB}" is the attachment's shaper device`);
  const mac = a.mode === "macvlan" ? canonicalMac(a.mac) : null;
  if (a.mode === "macvlan" && mac === null) issues.add("mac", `invalid MAC "${a.mac}"`);
  if (a.mtu !== 0 && (!Number.isInteger(a.mtu) || a.mtu < 68)) issues.add("mtu", `invalid MTU ${a.mtu}`);
  const addresses: string[] = [];
  for (const field of ["ipv4", "ipv6"] as const) {
    if (a[field] === "") continue;
    const c = canonicalCidr(a[field]);
    if (c === null || familyOf(c.split("/")[0]!) !== (field === "ipv4" ? 4 : 6)) issues.add(field, `invalid address "${a[field]}"`);
    else addresses.push(c);
  }
  if (a.ipv4 === "") issues.add("ipv4", "an endpoint needs an IPv4 address");
  const routes: AttachState["routes"] = [];
  for (const [field, family] of [["gateway", 4], ["ipv6Gateway", 6]] as const) {
    if (a[field] === "") continue;
    const via = canonicalIp(a[field]);
    if (via === null || familyOf(via) !== family) issues.add(field, `invalid gateway "${a[field]}"`);
    else routes.push({ family, via });
  }
  let nftScript: string | null = null;
  if (a.policy !== undefined) {
    try {
      nftScript = compile(directPolicyKey(a.tenantNamespace), { ...a.policy, networks: [] }).script;
    } catch (err) {
      issues.add("policy", (err as Error).message);
    }
  }
  if (issues.issues.length > 0) {
    const detail = issues.issues.map((i) => `${i.path}: ${i.message}`).join("; ");
    throw new ValidationError(`Cannot attach endpoint "${a.id}" (${a.mode} on "${a.hostIf}"): ${detail}`, issues.issues);
  }
  const mtuForBurst = a.mtu > 0 ? a.mtu : 1500;
  return {
    id: a.id,
    mode: a.mode,
    hostIf: a.hostIf,
    netns: a.netns,
    ifname: a.ifname,
    mac,
    mtu: a.mtu,
    addresses,
    routes,
    egress: shaper(a.qos.egressBps, a.qos.burstBytes, mtuForBurst),
    ingress: shaper(a.qos.ingressBps, a.qos.burstBytes, mtuForBurst),
    nftScript,
  };
}


/** The container's interface as the kernel shows it, with what hangs on it in the container's namespace. */
export interface ObservedAttachment {
  /** The container's namespace is gone (or never was): nothing else was read. */
  netnsMissing: boolean;
  link: {
    kind: string;
    /** host-device: the name it had on the host (our alias), else "". */
    hostName: string;
    mac: string;
    mtu: number;
    up: boolean;
    addresses: string[];
  } | null;
  /** Default routes through the interface. */
  routes: DefaultRoute[];
  /** Our ifb (ATTACH_IFB) in the container's namespace. */
  ifb: { up: boolean } | null;
  /** Qdiscs of the interface and of the ifb. */
  qdiscs: ObservedQdisc[];
  /** Redirects of the interface's ingress. */
  redirects: ObservedRedirect[];
  /** `table inet netplugin` exists in the container's namespace. */
  nftTable: boolean;
  /** host-device not moved in yet: what sysfs says of the device on the host. */
  hostDevice: HostDeviceInfo | null;
}

/** The marker a moved host device carries while it is in a container: its host name, to give it back. */
export const HOST_DEVICE_ALIAS = "netplugin host-device ";

/** Step.object of the interface itself: "macvlan eth0 on eth1". */
export function attachmentObject(a: { mode: DirectMode; ifname: string; hostIf: string }): string {
  return `${a.mode} ${a.ifname} on ${a.hostIf}`;
}

/**
 * The steps that make `state` true given what is `observed`, into `b` (a builder of the container's
 * namespace path). Pure. Only what differs gets a step; the policy table is (re)loaded when it is missing
 * or this process has not loaded this exact script there (`appliedScript`: null when it does not know).
 * Refused, as a problem of the builder: an existing interface of another kind (not ours), a container
 * namespace that is gone, and an SR-IOV physical function that has VFs (moving it would take their
 * uplink from every container using one).
 */
export function planAttachment(b: StepBuilder, state: AttachState, observed: ObservedAttachment, appliedScript: string | null): void {
  const { ifname, netns } = state;
  const object = attachmentObject(state);
  const ip = (action: Action, what: string, args: string[]): void => b.containerIp("container", action, what, netns, args);
  if (observed.netnsMissing) return b.problem(object, `container namespace "${netns}" does not exist`);
  const link = observed.link;
  if (link !== null && state.mode !== "host-device" && link.kind !== state.mode) {
    return b.problem(object, `"${ifname}" in ${netns} is a ${link.kind || "device"} link, not ours`);
  }
  if (link !== null && state.mode === "host-device" && link.hostName !== state.hostIf) {
    return b.problem(object, `"${ifname}" in ${netns} is not host device "${state.hostIf}"`);
  }
  const vfs = observed.hostDevice?.virtfns ?? [];
  if (vfs.length > 0) {
    return b.problem(object, `"${state.hostIf}" is an SR-IOV physical function whose virtual functions (${vfs.join(", ")}) depend on it: attach one of those instead`);
  }
  const mtu = state.mtu > 0 ? ["mtu", String(state.mtu)] : [];
  const set: string[] = [];
  if (link === null) {
    if (state.mode === "host-device") {
      // The report says when what moves is a VF, and of which NIC.
      const physfn = observed.hostDevice?.physfn;
      const moved = physfn === undefined ? object : `${object} (SR-IOV VF of ${physfn || "a physical function"})`;
      // Down first: some drivers refuse to change namespace while up; the alias names it for the way back.
      b.hostIp("container", "create", moved, ["link", "set", "dev", state.hostIf, "down"]);
      // Quoted: a batch line is split at blanks.
      b.hostIp("container", "create", moved, ["link", "set", "dev", state.hostIf, "alias", `"${HOST_DEVICE_ALIAS}${state.hostIf}"`]);
      b.hostIp("container", "create", moved, ["link", "set", "dev", state.hostIf, "netns", netns]);
      ip("create", moved, ["link", "set", "dev", state.hostIf, "name", ifname, ...mtu]);
    } else {
      // Made from the agent's namespace straight into the container's: the uplink is only there.
      const type = state.mode === "macvlan" ? ["type", "macvlan", "mode", "bridge"] : ["type", "ipvlan", "mode", "l2"];
      const address = state.mac === null ? [] : ["address", state.mac];
      b.hostIp("container", "create", object, ["link", "add", "link", state.hostIf, "name", ifname, "netns", netns, ...address, ...mtu, ...type]);
    }
  } else {
    if (state.mac !== null && link.mac !== state.mac) set.push("address", state.mac);
    if (state.mtu > 0 && link.mtu !== state.mtu) set.push(...mtu);
  }
  if (link === null || !link.up) set.push("up");
  if (set.length > 0) ip(link === null ? "create" : "update", object, ["link", "set", "dev", ifname, ...set]);
  const where = `${ifname} in ${netns}`;
  const have = link?.addresses ?? [];
  for (const address of have.filter((x) => !state.addresses.includes(x))) {
    ip("delete", `address ${address} on ${where}`, ["addr", "del", address, "dev", ifname]);
  }
  for (const address of state.addresses.filter((x) => !have.includes(x))) {
    // nodad: an IPv6 address is usable at once instead of after ~1 s of duplicate detection.
    const nodad = familyOf(address.split("/")[0]!) === 6 ? ["nodad"] : [];
    ip("create", `address ${address} on ${where}`, ["addr", "add", address, "dev", ifname, ...nodad]);
  }
  const same = (r: DefaultRoute, w: DefaultRoute): boolean => r.family === w.family && r.via === w.via;
  for (const r of observed.routes.filter((r) => !state.routes.some((w) => same(r, w)))) {
    ip("delete", `default route via ${r.via} on ${where}`, ["route", "del", "default", "via", r.via, "dev", ifname]);
  }
  for (const w of state.routes.filter((w) => !observed.routes.some((r) => same(r, w)))) {
    ip("create", `default route via ${w.via} on ${where}`, ["route", "add", "default", "via", w.via, "dev", ifname]);
  }
  planShapers(b, state, link === null ? { ...observed, qdiscs: observed.qdiscs.filter((q) => q.dev !== ifname), redirects: [] } : observed);
  const container: StepTarget = { kind: "container", path: netns };
  if (state.nftScript === null) {
    if (observed.nftTable) b.nft("delete", POLICY_NFT_OBJECT, ["delete", "table", "inet", NFT_TABLE], undefined, container);
  } else if (!observed.nftTable || appliedScript !== state.nftScript) {
    b.nft(observed.nftTable ? "update" : "create", POLICY_NFT_OBJECT, ["-f", "-"], state.nftScript, container);
  }
}

/**
 * Shapers in the container's namespace. What the container sends: a tbf as the interface's root qdisc. What
 * it receives: the interface's ingress → mirred → our ifb, whose root is a tbf. Only a root tbf is ours to
 * delete: a host device keeps its driver's qdisc.
 */
function planShapers(b: StepBuilder, state: AttachState, observed: ObservedAttachment): void {
  const dev = state.ifname;
  const container: StepTarget = { kind: "container", path: state.netns };
  const tc = (action: Action, what: string, args: string[]): void => b.tc(action, what, args, container);
  const ip = (action: Action, what: string, args: string[]): void => b.containerIp("container", action, what, state.netns, args);
  const root = observed.qdiscs.find((q) => q.dev === dev && q.root);
  if (state.egress !== null) {
    if (!(root?.kind === "tbf" && sameShaper(root.shaper, state.egress))) tc(root?.kind === "tbf" ? "update" : "create", `tbf on ${dev}`, tbfArgs(dev, state.egress));
  } else if (root?.kind === "tbf") {
    tc("delete", `tbf on ${dev}`, ["qdisc", "del", "dev", dev, "root"]);
  }
  const ingress = observed.qdiscs.find((q) => q.dev === dev && q.kind === "ingress");
  if (state.ingress === null) {
    if (ingress !== undefined) tc("delete", `ingress on ${dev}`, ["qdisc", "del", "dev", dev, "ingress"]);
    if (observed.ifb !== null) ip("delete", `ifb ${ATTACH_IFB}`, ["link", "del", ATTACH_IFB]);
    return;
  }
  if (observed.ifb === null) {
    ip("create", `ifb ${ATTACH_IFB}`, ["link", "add", ATTACH_IFB, "type", "ifb"]);
    ip("create", `ifb ${ATTACH_IFB}`, ["link", "set", ATTACH_IFB, "up"]);
  } else if (!observed.ifb.up) {
    ip("update", `ifb ${ATTACH_IFB}`, ["link", "set", ATTACH_IFB, "up"]);
  }
  const ifbRoot = observed.ifb === null ? undefined : observed.qdiscs.find((q) => q.dev === ATTACH_IFB && q.root);
  if (!(ifbRoot?.kind === "tbf" && sameShaper(ifbRoot.shaper, state.ingress))) {
    tc(ifbRoot?.kind === "tbf" ? "update" : "create", `tbf on ${ATTACH_IFB}`, tbfArgs(ATTACH_IFB, state.ingress));
  }
  const redirectRight = ingress !== undefined && observed.redirects.length === 1 && observed.redirects[0]!.toDev === ATTACH_IFB;
  if (redirectRight) return;
  if (ingress !== undefined) tc("delete", `ingress on ${dev}`, ["qdisc", "del", "dev", dev, "ingress"]);
  tc("create", `ingress on ${dev}`, ["qdisc", "add", "dev", dev, "handle", "ffff:", "ingress"]);
  tc("create", `redirect ${dev} to ${ATTACH_IFB}`, [
    "filter", "add", "dev", dev, "parent", "ffff:", "protocol", "all", "prio", "1",
    "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev", ATTACH_IFB,
  ]);
}

/**
 * The steps that take the attachment away, into `b`. Pure. macvlan/ipvlan: the interface is deleted.
 * host-device: the device is emptied (its tbf and ingress qdisc removed, addresses flushed, down), renamed
 * back to its host name and moved back to `back` (the agent's namespace). Our ifb and table go in every
 * mode. Nothing there (or the namespace gone) plans nothing. A device whose container namespace went away
 * without a DEL is moved back by the kernel itself (physical devices return to the initial namespace;
 * virtual stand-ins are destroyed).
 */
export function planRelease(b: StepBuilder, a: { mode: DirectMode; netns: string; ifname: string }, observed: ObservedAttachment, back: string): void {
  if (observed.netnsMissing) return;
  const ip = (what: string, args: string[]): void => b.containerIp("container", "delete", what, a.netns, args);
  const container: StepTarget = { kind: "container", path: a.netns };
  const object = `${a.mode} ${a.ifname}`;
  if (observed.nftTable) b.nft("delete", POLICY_NFT_OBJECT, ["delete", "table", "inet", NFT_TABLE], undefined, container);
  if (observed.ifb !== null) ip(`ifb ${ATTACH_IFB}`, ["link", "del", ATTACH_IFB]);
  const link = observed.link;
  if (link === null) return;
  if (a.mode !== "host-device") return ip(object, ["link", "del", "dev", a.ifname]);
  if (link.hostName === "") return b.problem(object, `cannot give back "${a.ifname}" in ${a.netns}: it carries no host name (not moved in by us)`);
  if (observed.qdiscs.some((q) => q.dev === a.ifname && q.root && q.kind === "tbf")) {
    b.tc("delete", `tbf on ${a.ifname}`, ["qdisc", "del", "dev", a.ifname, "root"], container);
  }
  if (observed.qdiscs.some((q) => q.dev === a.ifname && q.kind === "ingress")) {
    b.tc("delete", `ingress on ${a.ifname}`, ["qdisc", "del", "dev", a.ifname, "ingress"], container);
  }
  ip(object, ["addr", "flush", "dev", a.ifname]);
  ip(object, ["link", "set", "dev", a.ifname, "down"]);
  ip(object, ["link", "set", "dev", a.ifname, "name", link.hostName]);
  // A batch line is split at blanks: an empty alias is written quoted.
  ip(object, ["link", "set", "dev", link.hostName, "alias", '""']);
  ip(object, ["link", "set", "dev", link.hostName, "netns", back]);
}
