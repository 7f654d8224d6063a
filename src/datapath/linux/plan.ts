// A Plan is what diff() decided and apply() carries out: ordered steps, each one kernel
// command (one line of an ip/tc batch, or one nft/sysctl/netns call), plus the problems
// that kept diff from planning something (a container namespace that is gone). Each step
// and problem names the unit of the desired state it is for, so a failure reports it.

import type { DatapathError, DatapathErrorOwner } from "../driver.js";

/**
 * Creation order; deletions run first, in the reverse order. vxlan: the overlay device (needs its bridge);
 * uplink / hostEndpoint: veths between the agent's namespace and the tenant's, their addresses and the
 * tenant's default route; fdb: FDB and proxy-neighbour entries of the VXLAN devices; conntrack: entries to
 * service providers that left, deleted after everything else (StepBuilder.conntrack): once the tables send
 * no new connection there; offload: features of veths and VXLAN devices (`ethtool -K`, offloads.ts).
 */
export const PHASES = [
  "namespace", "sysctl", "bridge", "address", "vxlan", "veth", "container", "route", "uplink", "hostEndpoint", "fdb", "qdisc", "offload", "nft", "conntrack",
] as const;
export type Phase = (typeof PHASES)[number];

export type Action = "create" | "update" | "delete";

/**
 * Where a step runs. `namespace`: a named tenant namespace (ip -n / tc -n / ip netns exec);
 * `container`: a namespace given by path (tools.ts containerCommand); `host`: the agent's own namespace.
 */
export type StepTarget = { kind: "host" } | { kind: "namespace"; name: string } | { kind: "container"; path: string };

/**
 * ip / tc / bridge: args is one batch line ("link add …"); consecutive steps with the same tool and
 * target run as one `-batch -`. conntrack: args is one line of `conntrack -R -` in the target namespace
 * ("-D …"), consecutive ones likewise. netns: `ip netns ARGS`. sysctl: `sysctl ARGS` in the target namespace.
 * nft: `nft ARGS` in the target namespace, with stdin. ethtool: `ethtool ARGS` in the target namespace ("-K DEV …";
 * ethtool has no batch mode: one process per step).
 */
export type Tool = "ip" | "tc" | "bridge" | "conntrack" | "sysctl" | "nft" | "netns" | "ethtool";

/** Tools whose steps are lines of one process: `TOOL -force -batch -`, `conntrack -R -`. */
export function isBatchTool(tool: Tool): tool is "ip" | "tc" | "bridge" | "conntrack" {
  return tool === "ip" || tool === "tc" || tool === "bridge" || tool === "conntrack";
}

/**
 * Step.namespace of what belongs to no tenant: sysctls and the NAT table of the agent's own namespace.
 * Never a tenant namespace name (those start with the prefix).
 */
export const HOST_GROUP = "host";

export interface Step {
  /** The tenant namespace this step belongs to: steps of one namespace run in order, apart from the others. */
  namespace: string;
  /** The unit it is for: a failure of the step keeps that unit from being in force. */
  owner: DatapathErrorOwner;
  phase: Phase;
  action: Action;
  /** What changes, for reports and logs: "bridge nb1a2b3c4d", "address 10.1.1.254/24 on nb1a2b3c4d". */
  object: string;
  tool: Tool;
  target: StepTarget;
  args: string[];
  stdin?: string;
}

/** Something diff could not plan; the agent should retry later. */
export interface Problem {
  namespace: string;
  owner: DatapathErrorOwner;
  object: string;
  message: string;
}

export interface Plan {
  steps: Step[];
  problems: Problem[];
}

const PHASE_INDEX = new Map<Phase, number>(PHASES.map((p, i) => [p, i]));

export function phaseIndex(phase: Phase): number {
  return PHASE_INDEX.get(phase)!;
}

/** One step per line, for logs and golden tests: "ns: delete veth ne01 | ip[ns] link del ne01". */
export function describeStep(step: Step): string {
  const where =
    step.target.kind === "host" ? "host" : step.target.kind === "namespace" ? step.target.name : step.target.path;
  return `${step.namespace}: ${step.action} ${step.object} | ${step.tool}[${where}] ${step.args.join(" ")}`;
}

/** A change a run made, for its report. */
export interface ChangeSummary {
  namespace: string;
  phase: Phase;
  action: Action;
  object: string;
}

/** A failure or problem of a run, for its report. */
export interface ReconcileError extends DatapathError {
  cause: Error | null;
}
