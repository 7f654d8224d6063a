// Direct attachments (NIC attach modes): a container joins its network without a veth and bridge, on an
// interface made on a host interface (macvlan bridge mode, ipvlan L2) or on a whole host interface moved
// into its namespace (host-device: a NIC or an SR-IOV virtual function, sriov.ts). The same steps as the
// bridge path in miniature: renderAttachment() (pure) makes every decision, observeAttachment() reads the
// one link, planAttachment() (pure) turns the difference into commands, applyAttachment() runs them.
//
// Nothing of the tenant namespace sees these packets: they go from the container straight to the host
// interface's segment (macvlan/ipvlan: also straight to the other containers on that interface). So what
// the bridge path does in the tenant namespace is done inside the container's namespace, the one place
// every packet of the container passes: the tenant's policy, compiled by the same compiler into the same
// `table inet netplugin` (its input and output hooks judge what the container receives and sends), and the
// bandwidth limits as tc on the container's interface (what it sends: a tbf as its root qdisc; what it
// receives: ingress → mirred → an ifb in the container namespace with a tbf, the kernel having no police
// action). A process in the container with CAP_NET_ADMIN can undo both: the README says so.

import { compilePolicy, type PolicyInput } from "../../policy/index.js";
import { ValidationError } from "../../lib/errors.js";
import type { Executor } from "../../lib/process.js";
import type { EndpointQos } from "../types.js";
import { canonicalCidr, canonicalIp, canonicalMac, familyOf } from "./addr.js";
import { tbfArgs } from "./diffEndpoint.js";
import { shaper } from "./render.js";
import type { Shaper } from "./state.js";
import { hostCommand, isNotFound } from "./tools.js";
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
}

/** Where the commands run: the agent's namespace (hostNamespace in tests) and the path it is reached by. */
export interface AttachContext {
  executor: Executor;
  /** Named namespace standing in for the agent's (tests); absent: the agent's own. */
  hostNamespace?: string;
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

/** The desired state of one attachment, or the list of what is wrong with it. Pure. */
export function renderAttachment(a: DesiredAttachment): AttachState {
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
      nftScript = compilePolicy({ ...a.policy, networks: [] }).script;
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

/** The container's interface as the kernel shows it; null when it is not there. */
export interface ObservedAttachment {
  kind: string;
  /** host-device: the name it had on the host (our alias), else "". */
  hostName: string;
}

/** The marker a moved host device carries while it is in a container: its host name, to give it back. */
export const HOST_DEVICE_ALIAS = "netplugin host-device ";

export async function observeAttachment(ctx: AttachContext, netns: string, ifname: string): Promise<ObservedAttachment | null> {
  let out: string;
  try {
    out = await ctx.executor.run(inNetns(netns, ["ip", "-json", "-details", "link", "show", "dev", ifname]));
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  const [link] = JSON.parse(out) as Array<{ ifalias?: string; linkinfo?: { info_kind?: string } }>;
  const alias = link?.ifalias ?? "";
  return {
    kind: link?.linkinfo?.info_kind ?? "",
    hostName: alias.startsWith(HOST_DEVICE_ALIAS) ? alias.slice(HOST_DEVICE_ALIAS.length) : "",
  };
}

/** A command and the namespace it runs in: the agent's, or the container's (by path, through nsenter). */
export type AttachStep = { where: "host"; argv: string[] } | { where: "container"; netns: string; argv: string[]; stdin?: string };

/**
 * The commands that make `state` true given what is there. Pure. Idempotent: addresses, routes and qdiscs
 * are replaced, the policy table replaced whole; the interface is made only when it is missing. An existing
 * interface of another kind is refused (it is not ours).
 */
export function planAttachment(state: AttachState, observed: ObservedAttachment | null): AttachStep[] {
  const { ifname, netns } = state;
  const steps: AttachStep[] = [];
  const c = (argv: string[], stdin?: string): AttachStep => ({ where: "container", netns, argv, ...(stdin === undefined ? {} : { stdin }) });
  const wantKind = state.mode === "host-device" ? "" : state.mode;
  if (observed !== null && state.mode !== "host-device" && observed.kind !== wantKind) {
    throw new Error(`Cannot attach endpoint "${state.id}": "${ifname}" in ${netns} is a ${observed.kind || "device"} link, not ours`);
  }
  if (observed !== null && state.mode === "host-device" && observed.hostName !== state.hostIf) {
    throw new Error(`Cannot attach endpoint "${state.id}": "${ifname}" in ${netns} is not host device "${state.hostIf}"`);
  }
  const mtu = state.mtu > 0 ? ["mtu", String(state.mtu)] : [];
  if (observed === null) {
    if (state.mode === "host-device") {
      // Down first: some drivers refuse to change namespace while up; the alias names it for the way back.
      steps.push({ where: "host", argv: ["ip", "link", "set", "dev", state.hostIf, "down"] });
      steps.push({ where: "host", argv: ["ip", "link", "set", "dev", state.hostIf, "alias", HOST_DEVICE_ALIAS + state.hostIf] });
      steps.push({ where: "host", argv: ["ip", "link", "set", "dev", state.hostIf, "netns", netns] });
      steps.push(c(["ip", "link", "set", "dev", state.hostIf, "name", ifname, ...mtu]));
    } else {
      // Made from the agent's namespace straight into the container's: the uplink is only there.
      const type = state.mode === "macvlan" ? ["type", "macvlan", "mode", "bridge"] : ["type", "ipvlan", "mode", "l2"];
      const address = state.mac === null ? [] : ["address", state.mac];
      steps.push({ where: "host", argv: ["ip", "link", "add", "link", state.hostIf, "name", ifname, "netns", netns, ...address, ...mtu, ...type] });
    }
  } else if (state.mtu > 0) {
    steps.push(c(["ip", "link", "set", "dev", ifname, ...mtu]));
  }
  for (const address of state.addresses) {
    const nodad = familyOf(address.split("/")[0]!) === 6 ? ["nodad"] : [];
    steps.push(c(["ip", "addr", "replace", address, "dev", ifname, ...nodad]));
  }
  steps.push(c(["ip", "link", "set", "dev", ifname, "up"]));
  for (const r of state.routes) {
    steps.push(c(["ip", `-${r.family}`, "route", "replace", "default", "via", r.via, "dev", ifname]));
  }
  steps.push(...planShapers(state));
  steps.push(state.nftScript === null ? c(["nft", "delete", "table", "inet", "netplugin"]) : c(["nft", "-f", "-"], state.nftScript));
  return steps;
}

function planShapers(state: AttachState): AttachStep[] {
  const c = (argv: string[]): AttachStep => ({ where: "container", netns: state.netns, argv });
  const dev = state.ifname;
  const steps: AttachStep[] = [];
  // Deleting what may not be there: the runner ignores "not found" for these (optional: true).
  steps.push(state.egress === null ? c(["tc", "qdisc", "del", "dev", dev, "root"]) : c(["tc", ...tbfArgs(dev, state.egress)]));
  steps.push(c(["tc", "qdisc", "del", "dev", dev, "ingress"]));
  if (state.ingress === null) {
    steps.push(c(["ip", "link", "del", ATTACH_IFB]));
    return steps;
  }
  steps.push(c(["ip", "link", "add", ATTACH_IFB, "type", "ifb"]));
  steps.push(c(["ip", "link", "set", ATTACH_IFB, "up"]));
  steps.push(c(["tc", ...tbfArgs(ATTACH_IFB, state.ingress)]));
  steps.push(c(["tc", "qdisc", "add", "dev", dev, "handle", "ffff:", "ingress"]));
  steps.push(
    c(["tc", "filter", "add", "dev", dev, "parent", "ffff:", "protocol", "all", "prio", "1", "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev", ATTACH_IFB]),
  );
  return steps;
}

/** A delete of something absent, or an add of something present, changes nothing: not a failure. */
function harmless(step: AttachStep, err: unknown): boolean {
  const stderr = (err as { stderr?: string }).stderr ?? "";
  if ((step.argv.includes("del") || step.argv.includes("delete")) && isNotFound(err)) return true;
  // tc's answer to deleting an ingress qdisc a device does not have.
  if (step.argv[0] === "tc" && step.argv.includes("del") && step.argv.at(-1) === "ingress" && /Invalid handle/.test(stderr)) return true;
  return step.argv[1] === "link" && step.argv[2] === "add" && step.argv[3] === ATTACH_IFB && /File exists/.test(stderr);
}

function inNetns(netns: string, argv: string[]): string[] {
  return ["nsenter", `--net=${netns}`, ...argv];
}

async function runStep(ctx: AttachContext, step: AttachStep): Promise<void> {
  try {
    if (step.where === "container") {
      await ctx.executor.run(inNetns(step.netns, step.argv), step.stdin === undefined ? {} : { stdin: step.stdin });
    } else {
      const { argv, netns } = hostCommand(step.argv, ctx.hostNamespace);
      await ctx.executor.run(argv, netns === undefined ? {} : { netns });
    }
  } catch (err) {
    if (!harmless(step, err)) throw err;
  }
}

/**
 * Makes the attachment true: reads the container's interface, plans, runs. A new interface whose later
 * steps fail is taken away again (a made link deleted, a moved device given back) and the error says
 * "…; rolled back". Idempotent.
 */
export async function applyAttachment(ctx: AttachContext, desired: DesiredAttachment): Promise<AttachState> {
  const state = renderAttachment(desired);
  const observed = await observeAttachment(ctx, state.netns, state.ifname);
  const steps = planAttachment(state, observed);
  let made = false;
  try {
    for (const step of steps) {
      await runStep(ctx, step);
      if (step.where === "host" && observed === null) made = true;
    }
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    if (!made && /Unknown device type/.test(stderr)) {
      throw new Error(`Cannot attach endpoint "${state.id}": this kernel has no ${state.mode} driver (CONFIG_${state.mode.toUpperCase()})`, { cause: err });
    }
    if (!made) throw err;
    await releaseAttachment(ctx, { mode: state.mode, netns: state.netns, ifname: state.ifname }).catch(() => undefined);
    throw new Error(`${(err as Error).message}; rolled back`, { cause: err });
  }
  return state;
}

/**
 * Takes the attachment away. macvlan/ipvlan: the interface is deleted. host-device: the device is emptied
 * (addresses flushed, down, its shaper and our ifb removed), renamed back to its host name and moved back to
 * the agent's namespace. Idempotent: nothing there (or the namespace gone) is not an error. A device whose
 * container namespace went away without a DEL is moved back by the kernel itself (physical devices return
 * to the initial namespace; virtual stand-ins are destroyed).
 */
export async function releaseAttachment(ctx: AttachContext, a: { mode: DirectMode; netns: string; ifname: string }): Promise<void> {
  let observed: ObservedAttachment | null;
  try {
    observed = await observeAttachment(ctx, a.netns, a.ifname);
  } catch (err) {
    if (/cannot open|No such file/i.test((err as { stderr?: string }).stderr ?? "")) return;
    throw err;
  }
  const c = (argv: string[]): AttachStep => ({ where: "container", netns: a.netns, argv });
  const steps: AttachStep[] = [c(["nft", "delete", "table", "inet", "netplugin"]), c(["ip", "link", "del", ATTACH_IFB])];
  if (observed !== null) {
    if (a.mode === "host-device") {
      if (observed.hostName === "") throw new Error(`Cannot give back "${a.ifname}" in ${a.netns}: it carries no host name (not moved in by us)`);
      // The agent's own namespace (this process's), which may not be PID 1's (an agent of a simulated host).
      const back = ctx.hostNamespace === undefined ? String(process.pid) : `/var/run/netns/${ctx.hostNamespace}`;
      steps.push(
        c(["tc", "qdisc", "del", "dev", a.ifname, "root"]),
        c(["tc", "qdisc", "del", "dev", a.ifname, "ingress"]),
        c(["ip", "addr", "flush", "dev", a.ifname]),
        c(["ip", "link", "set", "dev", a.ifname, "down"]),
        c(["ip", "link", "set", "dev", a.ifname, "name", observed.hostName]),
        c(["ip", "link", "set", "dev", observed.hostName, "alias", ""]),
        c(["ip", "link", "set", "dev", observed.hostName, "netns", back]),
      );
    } else {
      steps.push(c(["ip", "link", "del", "dev", a.ifname]));
    }
  }
  for (const s of steps) await runStep(ctx, s);
}
