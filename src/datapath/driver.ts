// What the agent asks of a datapath driver, whichever kernel mechanism it uses: check a DesiredHost (pure),
// and make the host match it; and, where the driver can, read per-rule counters and flow counts, and remove all it made.
// Declared here, beside the desired-state types, so a driver implements it without knowing the agent, and
// the agent uses any driver (index.ts createDatapath) without knowing its internals.

import type { RuleCounter } from "../policy/index.js";
import type { DatapathOwner, DatapathProblem, DesiredHost } from "./types.js";

/**
 * What an error concerns: the smallest unit of the desired state it keeps from being in force (an endpoint,
 * a network, a tenant; nothing set: the host as a whole, what the driver keeps outside every tenant). An
 * endpoint of another host (a VXLAN remote) is named with its network and tenant, as in DatapathOwner.
 */
export interface DatapathErrorOwner extends DatapathOwner {
  /**
   * It concerns published host ports (DesiredEndpoint.portMappings): those of the tenant (what carries them
   * through its uplink), or without a tenant those of every tenant (what carries them in the host's own
   * namespace). Such an error is about the ports, not about the unit that holds them.
   */
  ports?: true;
}

/** Something a reconcile run could not read or bring to the wanted state (it is retried). */
export interface DatapathError {
  owner: DatapathErrorOwner;
  /** Where the driver met it (the Linux driver: a network namespace, "host" for the agent's own), for logs. */
  namespace: string;
  /** Kernel objects that did not reach the wanted state, for logs; empty when the namespace could not be read. */
  objects: string[];
  message: string;
}

/** A change a reconcile run made to the host. */
export interface DatapathChange {
  namespace: string;
  action: "create" | "update" | "delete";
  object: string;
}

export interface DatapathReport {
  /** Changes that took effect, in the order they were made. */
  changes: DatapathChange[];
  /** Failures and problems; non-empty means "try again later". */
  errors: DatapathError[];
}

/**
 * One flow a tenant's kernel counts connection attempts of (the flow records, agent/flows): whatever mechanism
 * counts them (the linux driver: nft dynamic sets), the recorder sees only this.
 */
export interface CountedFlow {
  /** The driver's name for it while it is counted; forgetFlows takes it back. */
  id: string;
  verdict: "allow" | "deny";
  /** The rule's key ("tenant:policy:ruleId"); null: the default allowed it. */
  rule: string | null;
  src: string;
  dst: string;
  proto: number;
  /** 0 for a protocol without ports. */
  dport: number;
  /** Attempts counted since the driver began counting this flow: a running total. */
  packets: number;
  /** When it was last counted (ms since the epoch; to the second on the linux driver). */
  lastSeen: number;
  /** When the driver forgets it by itself unless it is counted again (ms since the epoch). */
  expiresAt: number;
}

/** A tenant namespace's running totals (since its counts last began): what the driver reads first, cheaply. */
export interface FlowTotals {
  /** Attempts counted per flow. */
  counted: number;
  /** Attempts counted without a flow, there being no room for it. */
  overflowPackets: number;
}

/** What one tenant namespace's kernel counts now. */
export interface FlowCounts extends FlowTotals {
  namespace: string;
  /** Every count began again since the last reading (the table was replaced): none goes on from a count read before. */
  restarted: boolean;
  /** The flows, when they were listed (FlowReadOptions.list); undefined when not. */
  flows: CountedFlow[] | undefined;
  /** Flows the driver can count at once per address family (0: unknown, or not listed). */
  capacity: number;
}

/** Which namespaces' flows to list, from their totals: listing costs the set's whole size, the totals next to nothing. */
export type FlowListChoice = (namespace: string, totals: FlowTotals, restarted: boolean) => boolean;

/** Packets and bytes each policy rule has judged, by rule key (PolicyRule.key). */
export type RuleCounters = Record<string, RuleCounter>;

export interface DatapathDriver {
  /**
   * Pure: what in `desired` this driver cannot make, each with the unit it concerns. Leaving those units out
   * makes the rest reconcilable; reconcile() refuses a DesiredHost with any problem.
   */
  check(desired: DesiredHost): DatapathProblem[];
  /**
   * Optional, pure: host-wide settings of `desired` this driver accepts but cannot put in force (the linux
   * driver: an SDN controller), each saying so. They hold up nothing; the agent reports them as not applied.
   */
  unapplied?(desired: DesiredHost): DatapathProblem[];
  /** Makes the host match `desired`. Idempotent. full: read the whole host, not only what changed since it was applied. */
  reconcile(desired: DesiredHost, options: { full: boolean }): Promise<DatapathReport>;
  /**
   * Optional: the counters of every rule of every tenant of the last reconcile, as running totals over the
   * driver's life: they never go down while the tenant stays, reloading its policy included.
   */
  counters?(): Promise<RuleCounters>;
  /**
   * Optional: the totals of every tenant namespace of the last reconcile, with the flows of those `list` chooses,
   * and the namespaces that could not be read this time (their counts go on: the next reading takes up from the last).
   */
  readFlows?(list: FlowListChoice): Promise<{ counts: FlowCounts[]; unreadable: string[] }>;
  /**
   * Optional: stops counting these flows (CountedFlow.id) of a namespace, so others have room; their counts go
   * with them. Best effort: what cannot be forgotten now expires by itself.
   */
  forgetFlows?(namespace: string, ids: string[]): Promise<void>;
  /**
   * Optional: removes everything a driver of this kind made for hosts of `prefix` (DesiredHost.prefix), in use
   * or left by a crashed agent, and returns what it removed. Idempotent.
   */
  cleanup?(prefix: string): Promise<string[]>;
}
