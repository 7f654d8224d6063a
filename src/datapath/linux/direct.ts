// The direct attachments of a DesiredHost (endpoints with `direct` set: macvlan, ipvlan, host-device), kept
// by the driver beside its bridge path (driver.ts). The side of them that touches the kernel: each attachment is
// observed (observeAttachment), planned by attach.ts and the plan run by apply.ts, as the bridge path runs its
// own, and reported alike (report.ts). It remembers what it made so that an incremental run looks again only at
// an attachment whose rendered state changed, a full run observes every one and changes only what differs
// (repairs drift: a table or shaper removed behind our back), and an attachment no longer wanted is released
// (host-device given back). Failures are errors of the endpoint, retried by the next run.
//
// What it remembers lives only in this process: after an agent restart the attachments still wanted are
// observed and planned again (the interface found is kept; the policy script is loaded once more, as the
// bridge path does, diff.ts diffNft), those removed while it was down are not known to it (their interface
// goes with the container's namespace; a moved NIC is returned by the kernel).

import type { DatapathErrorOwner } from "../driver.js";
import { NFT_TABLE } from "../names.js";
import type { DatapathProblem, DesiredEndpoint, DesiredHost, DesiredTenant } from "../types.js";
import type { Executor } from "../../lib/process.js";
import { applyPlan, type ApplyOptions } from "./apply.js";
import {
  ATTACH_IFB,
  attachmentObject,
  HOST_DEVICE_ALIAS,
  planAttachment,
  planRelease,
  renderAttachment,
  type AttachState,
  type DesiredAttachment,
  type DirectMode,
  type ObservedAttachment,
} from "./attach.js";
import { isMissingNamespace } from "./observe.js";
import { defaultRoutes, hasNftTable, linkAddresses, linkKind, linkMac, linkUp, parseLinks, parseQdiscs, parseRedirects, parseRoutes, splitBatchJson } from "./parse.js";
import type { ChangeSummary, ReconcileError, Step } from "./plan.js";
import type { PolicyCompiler } from "./policies.js";
import { changeSummary, failureErrors, problemError } from "./report.js";
import { describeHostDevice } from "./sriov.js";
import { StepBuilder } from "./stepBuilder.js";
import { containerCommand } from "./tools.js";

interface Made {
  /** The rendered state applied (JSON), "" when the last apply of an attachment made before failed. */
  state: string;
  /** The policy script this process loaded in the container's namespace; null: none, or not known. */
  nftScript: string | null;
  tenant: string;
  /** The tenant namespace: a frozen tenant's attachments are left as they are. */
  namespace: string;
  network: string;
  endpoint: string;
  mode: DirectMode;
  netns: string;
  ifname: string;
}

function keyOf(netns: string, ifname: string): string {
  return `${netns}\u0000${ifname}`;
}

function desiredAttachment(tenant: DesiredTenant, e: DesiredEndpoint & { direct: NonNullable<DesiredEndpoint["direct"]> }): DesiredAttachment {
  return {
    id: e.id,
    mode: e.direct.mode,
    hostIf: e.direct.hostIf,
    netns: e.netns,
    ifname: e.ifname,
    mac: e.mac,
    mtu: e.mtu,
    ipv4: e.ipv4,
    ipv6: e.ipv6,
    gateway: e.gateway,
    ipv6Gateway: e.ipv6Gateway,
    qos: e.qos,
    policy: tenant.policy,
    tenantNamespace: tenant.namespace,
  };
}

function directOf(tenant: DesiredTenant): Array<DesiredEndpoint & { direct: NonNullable<DesiredEndpoint["direct"]> }> {
  return tenant.endpoints.filter((e): e is DesiredEndpoint & { direct: NonNullable<DesiredEndpoint["direct"]> } => e.direct !== undefined);
}

/** The host without its direct attachments: what the bridge path renders. */
export function withoutDirect(desired: DesiredHost): DesiredHost {
  if (!desired.tenants.some((t) => t.endpoints.some((e) => e.direct !== undefined))) return desired;
  return { ...desired, tenants: desired.tenants.map((t) => ({ ...t, endpoints: t.endpoints.filter((e) => e.direct === undefined) })) };
}

/** Pure: the direct attachments that cannot be rendered (a bad name, address, or a policy that does not compile). */
export function checkDirect(desired: DesiredHost, compile: PolicyCompiler): DatapathProblem[] {
  const problems: DatapathProblem[] = [];
  for (const tenant of desired.tenants) {
    for (const e of directOf(tenant)) {
      try {
        renderAttachment(desiredAttachment(tenant, e), compile);
      } catch (err) {
        problems.push({ owner: { tenant: tenant.name, network: e.network, endpoint: e.id }, message: (err as Error).message });
      }
    }
  }
  return problems;
}

/** Where the commands run: the agent's namespace (hostNamespace in tests), and where sysfs is read. */
export interface AttachContext {
  executor: Executor;
  /** Named namespace standing in for the agent's (tests); absent: the agent's own. */
  hostNamespace?: string;
  /**
   * Where sysfs is read to tell an SR-IOV physical function (sriov.ts); default "/sys", the agent's own
   * namespace's view (under hostNamespace that holds none of the simulated host's devices).
   */
  sysfs?: string;
}

const NOTHING: ObservedAttachment = { netnsMissing: false, link: null, routes: [], ifb: null, qdiscs: [], redirects: [], nftTable: false, hostDevice: null };


/**
 * Reads the attachment `a` in its container's namespace. Read-only. `hostDevice`: the host device to describe
 * from sysfs when the interface is not in the container yet (a host-device attachment about to be made).
 */
export async function observeAttachment(ctx: AttachContext, a: { netns: string; ifname: string }, hostDevice?: string): Promise<ObservedAttachment> {
  const { executor } = ctx;
  const ipArgv = containerCommand(a.netns, ["ip", "-json", "-d", "-batch", "-"]);
  let ipText: string;
  try {
    ipText = await executor.run(ipArgv, { stdin: "addr show\nroute show table all\n" });
  } catch (error) {
    if (isMissingNamespace(error)) return { ...NOTHING, netnsMissing: true };
    throw error;
  }
  const [linkText, routeText] = splitBatchJson(ipText, 2, ipArgv);
  const links = parseLinks(linkText!, ipArgv);
  const link = links.find((l) => l.ifname === a.ifname);
  const ifb = links.find((l) => l.ifname === ATTACH_IFB);
  const qdiscArgv = containerCommand(a.netns, ["tc", "-json", "qdisc", "show"]);
  const nftArgv = containerCommand(a.netns, ["nft", "-j", "list", "tables"]);
  const [qdiscText, nftText] = await Promise.all([executor.run(qdiscArgv), executor.run(nftArgv)]);
  const qdiscs = parseQdiscs(qdiscText, qdiscArgv).filter((q) => q.dev === a.ifname || q.dev === ATTACH_IFB);
  const filterArgv = containerCommand(a.netns, ["tc", "-json", "filter", "show", "dev", a.ifname, "ingress"]);
  const hasIngress = link !== undefined && qdiscs.some((q) => q.dev === a.ifname && q.kind === "ingress");
  const alias = link?.ifalias ?? "";
  return {
    netnsMissing: false,
    link:
      link === undefined
        ? null
        : {
            kind: linkKind(link),
            hostName: alias.startsWith(HOST_DEVICE_ALIAS) ? alias.slice(HOST_DEVICE_ALIAS.length) : "",
            mac: linkMac(link),
            mtu: link.mtu,
            up: linkUp(link),
            addresses: linkAddresses(link),
          },
    routes: link === undefined ? [] : defaultRoutes(parseRoutes(routeText!, ipArgv), a.ifname),
    ifb: ifb === undefined ? null : { up: linkUp(ifb) },
    qdiscs,
    redirects: hasIngress ? parseRedirects(a.ifname, await executor.run(filterArgv), filterArgv) : [],
    nftTable: hasNftTable(nftText, "inet", NFT_TABLE, nftArgv),
    hostDevice: hostDevice !== undefined && link === undefined ? describeHostDevice(hostDevice, ctx.sysfs) : null,
  };
}

/** What one attachment's run did: as the bridge path reports it (report.ts). */
export interface AttachResult {
  applied: Step[];
  errors: ReconcileError[];
  /** The interface is in the container's namespace after the run (made or found, and not rolled back). */
  present: boolean;
}

function runOptions(ctx: AttachContext): ApplyOptions {
  return ctx.hostNamespace === undefined ? {} : { hostNamespace: ctx.hostNamespace };
}

/** The agent's own namespace as `ip link set … netns` takes it: this process's, which may not be PID 1's (a simulated host's). */
function agentNamespace(ctx: AttachContext): string {
  return ctx.hostNamespace === undefined ? String(process.pid) : `/var/run/netns/${ctx.hostNamespace}`;
}

/**
 * Makes the rendered attachment true: observes it, plans what differs, runs the plan (apply.ts). A new
 * interface whose later steps fail is taken away again and its errors say "…; rolled back". Never throws
 * for a kernel failure: that is an error of the result, owned by `owner`.
 */
export async function applyAttachment(
  ctx: AttachContext,
  state: AttachState,
  options: { owner: DatapathErrorOwner; appliedScript: string | null },
): Promise<AttachResult> {
  const object = attachmentObject(state);
  let observed: ObservedAttachment;
  try {
    observed = await observeAttachment(ctx, state, state.mode === "host-device" ? state.hostIf : undefined);
  } catch (error) {
    const cause = error instanceof Error ? error : new Error(String(error));
    return { applied: [], errors: [{ owner: options.owner, namespace: state.netns, objects: [object], message: `Cannot read ${object}: ${cause.message}`, cause }], present: false };
  }
  const b = StepBuilder.of(state.netns, options.owner);
  planAttachment(b, state, observed, options.appliedScript);
  const result = await applyPlan(ctx.executor, { steps: b.steps(), problems: b.problems }, runOptions(ctx));
  const errors = [...b.problems.map(problemError), ...result.failures.flatMap(failureErrors)].map((e) => explain(state, e));
  const made = observed.link === null && result.applied.some((s) => s.target.kind === "host");
  if (!made || result.failures.length === 0) return { applied: result.applied, errors, present: observed.link !== null || made };
  const undo = await releaseAttachment(ctx, state, options.owner);
  return {
    applied: [...result.applied, ...undo.applied],
    errors: [...errors.map((e) => ({ ...e, message: `${e.message}; rolled back` })), ...undo.errors],
    present: undo.errors.length > 0,
  };
}

/** A kernel without the driver of the mode says only "Unknown device type": the error says which. */
function explain(state: AttachState, error: ReconcileError): ReconcileError {
  if (state.mode === "host-device" || !/Unknown device type/.test(error.message)) return error;
  return { ...error, message: `Cannot attach endpoint "${state.id}": this kernel has no ${state.mode} driver (CONFIG_${state.mode.toUpperCase()})` };
}

/** Takes the attachment away (planRelease). Idempotent. Never throws for a kernel failure. */
export async function releaseAttachment(
  ctx: AttachContext,
  a: { mode: DirectMode; netns: string; ifname: string },
  owner: DatapathErrorOwner,
): Promise<{ applied: Step[]; errors: ReconcileError[] }> {
  const object = `${a.mode} ${a.ifname}`;
  let observed: ObservedAttachment;
  try {
    observed = await observeAttachment(ctx, a);
  } catch (error) {
    const cause = error instanceof Error ? error : new Error(String(error));
    return { applied: [], errors: [{ owner, namespace: a.netns, objects: [object], message: `Cannot read ${object}: ${cause.message}`, cause }] };
  }
  const b = StepBuilder.of(a.netns, owner);
  planRelease(b, a, observed, agentNamespace(ctx));
  const result = await applyPlan(ctx.executor, { steps: b.steps(), problems: b.problems }, runOptions(ctx));
  return { applied: result.applied, errors: [...b.problems.map(problemError), ...result.failures.flatMap(failureErrors)] };
}

export interface DirectOptions {
  /** Named namespace standing in for the agent's (tests); absent: the agent's own. */
  hostNamespace?: string;
  /** Where sysfs is read (tests); default "/sys". */
  sysfs?: string;
}

export class DirectAttachments {
  private readonly made = new Map<string, Made>();
  private readonly ctx: AttachContext;

  constructor(executor: Executor, options: DirectOptions = {}) {
    this.ctx = { executor, ...options };
  }

  /**
   * Makes the direct attachments of `desired` true and releases those no longer wanted. `full`: observe every
   * attachment, not only those whose rendered state changed. `compile`: the driver's policy cache. Never
   * throws: failures are errors.
   */
  async reconcile(desired: DesiredHost, options: { full: boolean; compile: PolicyCompiler }): Promise<{ changes: ChangeSummary[]; errors: ReconcileError[] }> {
    const changes: ChangeSummary[] = [];
    const errors: ReconcileError[] = [];
    const wanted = new Set<string>();
    for (const tenant of desired.tenants) {
      for (const e of directOf(tenant)) {
        const key = keyOf(e.netns, e.ifname);
        wanted.add(key);
        const a = desiredAttachment(tenant, e);
        const owner = { tenant: tenant.name, network: e.network, endpoint: e.id };
        const before = this.made.get(key);
        let state;
        try {
          state = renderAttachment(a, options.compile);
        } catch (err) {
          errors.push({ owner, namespace: e.netns, objects: [attachmentObject(a)], message: (err as Error).message, cause: err as Error });
          continue;
        }
        const rendered = JSON.stringify(state);
        if (!options.full && before?.state === rendered) continue;
        const result = await applyAttachment(this.ctx, state, { owner, appliedScript: before?.nftScript ?? null });
        changes.push(...result.applied.map(changeSummary));
        errors.push(...result.errors);
        if (!result.present && before === undefined) continue;
        const ok = result.errors.length === 0;
        this.made.set(key, {
          state: ok ? rendered : "",
          // A failed run may have left the table as it was, or not: load it again next time.
          nftScript: ok ? state.nftScript : null,
          tenant: tenant.name, namespace: tenant.namespace, network: e.network, endpoint: e.id,
          mode: e.direct.mode, netns: e.netns, ifname: e.ifname,
        });
      }
    }
    const frozen = new Set(desired.frozen ?? []);
    for (const [key, m] of [...this.made]) {
      if (wanted.has(key) || frozen.has(m.namespace)) continue;
      const result = await releaseAttachment(this.ctx, m, { tenant: m.tenant, network: m.network, endpoint: m.endpoint });
      changes.push(...result.applied.map(changeSummary));
      errors.push(...result.errors);
      if (result.errors.length === 0) this.made.delete(key);
    }
    return { changes, errors };
  }
}
