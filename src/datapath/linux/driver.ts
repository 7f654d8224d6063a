// The Linux datapath of one host: reconcile() = render → observe → diff → apply. It is
// level-triggered and restart-safe: given the same DesiredHost twice, or after a restart,
// it changes nothing that is already right (no link re-created, no address flushed), so
// established connections survive. Calls are serialised: one reconcile at a time.
// Runs are incremental: the driver remembers what it applied without failure and reads only
// what may differ from it (incremental.ts); a full run reads everything, to repair drift.
// The per-rule counters are read from each tenant's judge maps (policy/counters.ts) and mapped to
// rules with the compiled policy of the script that table holds; so are the flow records (flows.ts).

import { randomInt } from "node:crypto";
import type { Logger } from "pino";

import { accumulateCounters, NO_COUNTER_HISTORY, type CounterHistory } from "../counters.js";
import type { DatapathDriver, FlowCounts, FlowListChoice, RuleCounters } from "../driver.js";
import { hostNftTable, NFT_TABLE, ownsNamespace } from "../names.js";
import type { DatapathProblem, DesiredHost } from "../types.js";
import { ValidationError } from "../../lib/errors.js";
import type { Executor } from "../../lib/process.js";
import { RULE_COUNTERS_ARGVS, ruleCounters, type CompiledPolicy, type FlowSetOptions, type RuleCounter } from "../../policy/index.js";
import { applyPlan, type StepFailure } from "./apply.js";
import { diffEndpointChanges, diffHost, POLICY_NFT_OBJECT } from "./diff.js";
import { checkDirect, DirectAttachments, withoutDirect } from "./direct.js";
import { forgetFlowElements, readFlowCounts, type TraceCache } from "./flows.js";
import { PickupWindows } from "./pickup.js";
import { PolicyCache, type PolicyCompiler } from "./policies.js";
import { HOST_TABLE_FAMILY } from "./renderOverlay.js";
import { NOTHING_APPLIED, nextApplied, selectScope, type AppliedState, type ObserveScope } from "./incremental.js";
import { readNamespaceDir, type NamespaceLister } from "./netnsDir.js";
import { observeHost, tenantNamespacesOf } from "./observe.js";
import { parseLinks, linkKind } from "./parse.js";
import { HOST_GROUP, type ChangeSummary, type Plan, type ReconcileError, type Step } from "./plan.js";
import { changeSummary, failureErrors, problemError } from "./report.js";
import { checkHost, renderHost } from "./render.js";
import type { HostState } from "./state.js";
import { DELETE_GROUP } from "./stepBuilder.js";
import { hostCommand, isNotFound } from "./tools.js";

export interface LinuxDatapathOptions {
  /** Tenant namespaces observed and applied at the same time; default 4. */
  concurrency?: number;
  /**
   * Named network namespace that stands in for the agent's own: every command the driver would run in
   * its own namespace (creating VXLAN devices, the agent-side ends of uplinks and host endpoints, ip_forward,
   * the outbound NAT table, cleanup of prefixed links) runs there via `ip -n NAME` / `ip netns exec NAME`.
   * Unset in production, where the agent itself runs inside its host's namespace; tests set it to simulate
   * several hosts from one process.
   */
  hostNamespace?: string;
  /** How long a bridge that starts passing netfilter picks up running TCP connections (pickup.ts); tests shorten it. */
  pickupWindowSeconds?: number;
  /** How the tenants' tables count connection attempts for the flow records (policy/flowsets.ts); undefined: not at all. */
  flowSets?: FlowSetOptions;
  /** Where the names of the namespaces come from; default the directory `ip netns` keeps them in (netnsDir.ts). */
  namespaces?: NamespaceLister;
  logger?: Logger;
}

export interface ReconcileReport {
  /** Changes that took effect, in the order they were made. */
  changes: ChangeSummary[];
  /** Failures and problems; non-empty means "try again later". */
  errors: ReconcileError[];
  durationMs: number;
}

export interface ReconcileOptions {
  /**
   * Read every tenant, container and the agent's namespace, not only what changed since it was applied:
   * repairs what was changed behind our back. The agent asks for it on its periodic resync.
   */
  full?: boolean;
}

const PREFIX = /^[A-Za-z0-9]{3,}$/;

export class LinuxDatapath implements DatapathDriver {
  private readonly appliedNft = new Map<string, string>();
  private readonly pickup: PickupWindows;
  private readonly policies: PolicyCache;
  /**
   * Per tenant namespace of the last reconcile, the compiled policy of the script its table holds (what its
   * counters are read with); null while that is not known (nothing applied there by this process yet).
   */
  private tables = new Map<string, CompiledPolicy | null>();
  /** Namespaces whose table was (re)placed since counters were last read: their counters restarted. */
  private readonly reloadedTables = new Set<string>();
  /** The same since the flow sets were last read, and per namespace the allowed flows' traced rules. */
  private readonly reloadedFlowSets = new Set<string>();
  private flowTraces = new Map<string, TraceCache>();
  private counterHistory: CounterHistory = NO_COUNTER_HISTORY;
  /** Conntrack deletions that failed, by tenant namespace: planned again until they take (diffServices.ts). */
  private unflushed = new Map<string, Step[]>();
  /** What was applied without failure (incremental.ts); forgotten whole when a run throws. */
  private applied: AppliedState = NOTHING_APPLIED;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly concurrency: number;
  private readonly hostNamespace: string | undefined;
  private readonly namespaces: NamespaceLister;
  private readonly logger: Logger | undefined;
  /** Endpoints with a direct attachment (direct.ts): outside the tenant namespaces, made beside them. */
  private readonly direct: DirectAttachments;

  constructor(
    private readonly executor: Executor,
    options: LinuxDatapathOptions = {},
  ) {
    this.concurrency = options.concurrency ?? 4;
    this.policies = new PolicyCache(options.flowSets);
    this.pickup = new PickupWindows(options.pickupWindowSeconds);
    this.hostNamespace = options.hostNamespace;
    this.namespaces = options.namespaces ?? readNamespaceDir;
    this.logger = options.logger;
    this.direct = new DirectAttachments(executor, options.hostNamespace === undefined ? {} : { hostNamespace: options.hostNamespace });
  }

  private applyOptions(): { concurrency: number; hostNamespace?: string } {
    return { concurrency: this.concurrency, ...(this.hostNamespace === undefined ? {} : { hostNamespace: this.hostNamespace }) };
  }

  /** A command of the agent's own namespace (see LinuxDatapathOptions.hostNamespace). */
  private runInHost(argv: string[]): Promise<string> {
    const command = hostCommand(argv, this.hostNamespace);
    return this.executor.run(command.argv, command.netns === undefined ? {} : { netns: command.netns });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }


  /** Pure: what in `desired` cannot be rendered, each with its unit (render.ts checkHost), a policy that does not compile included. */
  check(desired: DesiredHost): DatapathProblem[] {
    return [...checkHost(withoutDirect(desired), this.policies.compile), ...checkDirect(desired, this.policies.compile)];
  }

  /** Pure: an SDN controller needs an OpenFlow bridge, which this datapath has not. */
  unapplied(desired: DesiredHost): DatapathProblem[] {
    const controller = desired.host.sdnController ?? "";
    return controller === "" ? [] : [{ owner: {}, message: `sdnController "${controller}" is not applied: the linux datapath cannot use an SDN controller` }];
  }

  /** What reconcile(desired, options) would do now, without doing it. Throws ValidationError for bad input. */
  plan(desired: DesiredHost, options: ReconcileOptions = {}): Promise<Plan> {
    return this.serial(async () => (await this.observeAndDiff(renderHost(withoutDirect(desired), this.policies.compile), this.trusted(options))).plan);
  }

  /** What a run may take as applied without reading it. */
  private trusted(options: ReconcileOptions): AppliedState {
    return options.full === true ? NOTHING_APPLIED : this.applied;
  }

  private async observeAndDiff(
    wanted: HostState,
    applied: AppliedState,
  ): Promise<{ scope: ObserveScope; plan: Plan; errors: ReconcileError[]; diffed: Set<string> }> {
    const scope = selectScope(wanted, applied, tenantNamespacesOf(await this.namespaces(), wanted.prefix));
    const observed = await observeHost(this.executor, wanted, {
      concurrency: this.concurrency,
      ...(this.hostNamespace === undefined ? {} : { hostNamespace: this.hostNamespace }),
      scope,
    });
    const deleteGroup = randomInt(1, 2 ** 31);
    const options = { appliedNft: this.appliedNft, pickup: this.pickup.state(Date.now()), deleteGroup, unflushed: this.unflushed };
    const plan = diffHost(wanted, observed, options);
    // Tenants whose only change is endpoints added or removed are planned without being read.
    for (const tenant of wanted.tenants) {
      const changes = scope.endpointsOnly?.get(tenant.namespace);
      if (changes === undefined) continue;
      const more = diffEndpointChanges(tenant, changes, options);
      plan.steps.push(...more.steps);
      plan.problems.push(...more.problems);
    }
    const tenants = new Map(wanted.tenants.map((t) => [t.namespace, t.tenant]));
    const errors = observed.failures.map((f) => {
      const tenant = tenants.get(f.namespace);
      return {
        owner: tenant === undefined ? {} : { tenant },
        namespace: f.namespace,
        objects: [],
        message: `Cannot read ${f.namespace === HOST_GROUP ? "the agent's namespace" : `namespace "${f.namespace}"`}: ${f.error.message}`,
        cause: f.error,
      };
    });
    return { scope, plan, errors, diffed: new Set(observed.tenants.map((t) => t.namespace)) };
  }

  /**
   * Makes the kernel match `desired` and removes tenant namespaces of its prefix that are no longer
   * wanted. Idempotent. Kernel failures do not throw: they are in the report, and one tenant's
   * failure does not stop the others. Throws ValidationError when `desired` cannot be rendered.
   * Reads only what changed since it was applied, unless `options.full` (incremental.ts).
   */
  reconcile(desired: DesiredHost, options: ReconcileOptions = {}): Promise<ReconcileReport> {
    return this.serial(async () => {
      const started = Date.now();
      const first = await this.pass(desired, options);
      // A tenant planned without reading it, or a container side taken as not made yet, that failed (an interface
      // name taken, a container namespace gone): a second pass reads the namespaces that failed (nothing of them
      // is trusted now) and says why.
      const second = first.freshFailed ? await this.pass(desired, {}) : undefined;
      const report: ReconcileReport = {
        changes: [...first.changes, ...(second?.changes ?? [])],
        errors: (second ?? first).errors,
        durationMs: Date.now() - started,
      };
      const read = first.read + (second?.read ?? 0);
      if (report.changes.length > 0) {
        this.logger?.info({ op: "reconcile", changes: report.changes.length, read, durationMs: report.durationMs }, "datapath changed");
      } else {
        this.logger?.debug({ op: "reconcile", read, durationMs: report.durationMs }, "datapath in sync");
      }
      return report;
    });
  }

  /**
   * One render → observe → diff → apply. freshFailed: a namespace planned without reading it, or where a
   * container side was taken as not made yet, failed (incremental.ts); read: how many tenants it read.
   */
  private async pass(
    desired: DesiredHost,
    options: ReconcileOptions,
  ): Promise<Pick<ReconcileReport, "changes" | "errors"> & { freshFailed: boolean; read: number }> {
    const compiled = new Map<string, CompiledPolicy>();
    const wanted = renderHost(withoutDirect(desired), (namespace, input) => {
      const policy = this.policies.compile(namespace, input);
      compiled.set(namespace, policy);
      return policy;
    });
    // The direct attachments' policies are cached beside the tenants' (under their own keys).
    const directKeys = new Set<string>();
    const compileDirect: PolicyCompiler = (key, input) => {
      directKeys.add(key);
      return this.policies.compile(key, input);
    };
    // Whatever throws from here on may have left anything half done: trust nothing applied before.
    const applied = this.trusted(options);
    this.applied = NOTHING_APPLIED;
    const { scope, plan, errors, diffed } = await this.observeAndDiff(wanted, applied);
    const result = await applyPlan(this.executor, plan, this.applyOptions());
    const failed = new Set([...errors, ...plan.problems, ...result.failures].map((f) => f.namespace));
    this.applied = nextApplied(applied, wanted, scope, failed);
    // Only the policy script is remembered; the tables we render whole carry their own tag.
    for (const step of result.applied) {
      const policy = step.tool === "nft" && step.object === POLICY_NFT_OBJECT;
      if (policy && step.action !== "delete") this.appliedNft.set(step.namespace, step.stdin ?? "");
      else if (policy || step.tool === "netns") this.appliedNft.delete(step.namespace);
    }
    for (const failure of result.failures) {
      if (failure.steps.some((s) => s.tool === "nft" && s.object === POLICY_NFT_OBJECT)) this.appliedNft.delete(failure.namespace);
    }
    this.tables = this.tablesAfter(compiled, result.applied);
    this.pickup.record(result.applied, result.failures.flatMap((f) => f.steps), Date.now());
    this.unflushed = this.unflushedAfter(wanted, diffed, result.failures);
    // Direct attachments after the tenant namespaces (their policy is the tenant's, nothing else of it).
    const direct = await this.direct.reconcile(desired, { full: options.full === true, compile: compileDirect });
    this.policies.keep(new Set([...compiled.keys(), ...directKeys]));
    return {
      changes: [...result.applied.map(changeSummary), ...direct.changes],
      errors: [...errors, ...plan.problems.map(problemError), ...result.failures.flatMap(failureErrors), ...direct.errors],
      freshFailed: [...(scope.fresh?.keys() ?? []), ...(scope.endpointsOnly?.keys() ?? [])].some((namespace) => failed.has(namespace)),
      read: scope.tenants.size,
    };
  }

  /**
   * What each rendered tenant's table holds after a run that applied `applied`: the policy just rendered where
   * its script took; where it did not (nft applies a script whole or not at all), what it held before; nothing
   * known in a namespace made or removed. Each change restarts the table's counters.
   */
  private tablesAfter(rendered: ReadonlyMap<string, CompiledPolicy>, applied: Step[]): Map<string, CompiledPolicy | null> {
    const tables = new Map<string, CompiledPolicy | null>([...rendered.keys()].map((namespace) => [namespace, this.tables.get(namespace) ?? null]));
    for (const step of applied) {
      if (step.tool === "netns") tables.set(step.namespace, null);
      else if (step.tool === "nft" && step.object === POLICY_NFT_OBJECT) tables.set(step.namespace, rendered.get(step.namespace) ?? null);
      else continue;
      this.reloadedTables.add(step.namespace);
      this.reloadedFlowSets.add(step.namespace);
    }
    for (const namespace of tables.keys()) if (!rendered.has(namespace)) tables.delete(namespace);
    return tables;
  }

  /**
   * The conntrack deletions left to do after a run: in a namespace it diffed (which planned again all that were
   * left but those of providers that are back), those that failed; in one it did not (not read, or unreadable),
   * those left before; none in a namespace no longer wanted.
   */
  private unflushedAfter(wanted: HostState, diffed: ReadonlySet<string>, failures: StepFailure[]): Map<string, Step[]> {
    const failed = failures.flatMap((f) => f.steps).filter((s) => s.tool === "conntrack");
    const next = new Map<string, Step[]>();
    for (const { namespace } of wanted.tenants) {
      const left = diffed.has(namespace) ? failed.filter((s) => s.namespace === namespace) : (this.unflushed.get(namespace) ?? []);
      if (left.length > 0) next.set(namespace, left);
    }
    return next;
  }

  /**
   * Per-rule counters of every tenant of the last reconcile, as running totals (../counters.ts). A tenant whose
   * table cannot be read, or whose policy in force is not known, keeps the totals it had.
   */
  counters(): Promise<RuleCounters> {
    return this.serial(async () => {
      const readings = new Map<string, ReadonlyMap<string, RuleCounter> | null>();
      for (const [namespace, policy] of this.tables) {
        if (policy === null) {
          readings.set(namespace, null);
          continue;
        }
        try {
          const listed = await Promise.all(RULE_COUNTERS_ARGVS.map((argv) => this.executor.run(argv, { netns: namespace })));
          readings.set(namespace, ruleCounters(listed, policy));
        } catch (error) {
          this.logger?.debug({ op: "counters", namespace, err: (error as Error).message }, "cannot read rule counters");
          readings.set(namespace, null);
        }
      }
      const { history, totals } = accumulateCounters(this.counterHistory, readings, this.reloadedTables);
      this.counterHistory = history;
      this.reloadedTables.clear();
      return totals;
    });
  }

  /**
   * The flow counters of every tenant whose policy in force is known, and the sets `list` asks for (flows.ts).
   * Serialised with the reconciles, so each is named with the policy its table holds; `restarted` when the table
   * was replaced since the last read.
   */
  readFlows(list: FlowListChoice): Promise<{ counts: FlowCounts[]; unreadable: string[] }> {
    return this.serial(async () => {
      const out: FlowCounts[] = [];
      const unreadable: string[] = [];
      const traces = new Map<string, TraceCache>();
      for (const [namespace, policy] of this.tables) {
        if (policy === null) continue;
        try {
          const restarted = this.reloadedFlowSets.has(namespace);
          const { counts, cache } = await readFlowCounts(this.executor, namespace, { policy, restarted, now: Date.now(), cache: this.flowTraces.get(namespace), list });
          this.reloadedFlowSets.delete(namespace);
          if (cache) traces.set(namespace, cache);
          out.push(counts);
        } catch (error) {
          this.logger?.debug({ op: "flows", namespace, err: (error as Error).message }, "cannot read flow sets");
          unreadable.push(namespace);
        }
      }
      this.flowTraces = traces;
      return { counts: out, unreadable };
    });
  }

  /** Deletes flows of a namespace's sets (flows.ts); a failure (one expired meanwhile fails the transaction) is logged at debug. */
  forgetFlows(namespace: string, ids: string[]): Promise<void> {
    return this.serial(async () => {
      try {
        await forgetFlowElements(this.executor, namespace, ids);
      } catch (error) {
        this.logger?.debug({ op: "flows", namespace, err: (error as Error).message }, "cannot forget flows");
      }
    });
  }

  /**
   * Removes every namespace carrying the prefix ("<prefix>-…"), every link in the agent's namespace whose
   * name starts with it (agent-side ends of uplinks and host endpoints) and our NAT table there. Veths and
   * VXLAN devices in a namespace go before it, so container sides vanish and VNIs are free at once.
   * Returns what it removed. Idempotent.
   */
  cleanup(prefix: string): Promise<string[]> {
    return this.serial(async () => {
      if (!PREFIX.test(prefix)) {
        throw new ValidationError(`Cannot clean up "${prefix}": a prefix has at least 3 letters or digits`, [
          { path: "prefix", message: "invalid prefix" },
        ]);
      }
      // It removes tenants and what we own in the agent's namespace: nothing applied is there any more, and no
      // conntrack entry of a removed namespace is left to delete.
      this.applied = NOTHING_APPLIED;
      this.unflushed = new Map();
      const removed: string[] = [];
      for (const namespace of (await this.namespaces()).filter((n) => ownsNamespace(prefix, n)).sort()) {
        await this.removeLinksOf(namespace);
        try {
          await this.executor.run(["ip", "netns", "del", namespace]);
          removed.push(`namespace ${namespace}`);
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
        this.appliedNft.delete(namespace);
        this.tables.delete(namespace);
      }
      const argv = ["ip", "-json", "link", "show"];
      for (const link of parseLinks(await this.runInHost(argv), argv).filter((l) => l.ifname.startsWith(prefix))) {
        try {
          await this.runInHost(["ip", "link", "del", link.ifname]);
          removed.push(`link ${link.ifname}`);
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
      }
      const table = hostNftTable(prefix);
      // "ip": where an agent of an earlier version kept it.
      for (const family of [HOST_TABLE_FAMILY, "ip"]) {
        try {
          await this.runInHost(["nft", "delete", "table", family, table]);
          removed.push(`nft table ${family} ${table}`);
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
      }
      this.logger?.info({ op: "cleanup", prefix, removed: removed.length }, "datapath cleaned up");
      return removed;
    });
  }

  /** Best effort: the namespace is deleted right after anyway. */
  private async removeLinksOf(namespace: string): Promise<void> {
    const argv = ["ip", "-n", namespace, "-json", "-d", "link", "show"];
    try {
      const links = parseLinks(await this.executor.run(argv), argv).filter((l) => ["veth", "vxlan"].includes(linkKind(l)));
      if (links.length === 0) return;
      // As a plan deletes them (stepBuilder.ts): one group, one RCU wait.
      await this.executor.run(["ip", "-n", namespace, "-force", "-batch", "-"], {
        stdin: `${links.map((l) => `link set ${l.ifname} group ${DELETE_GROUP}\n`).join("")}link del group ${DELETE_GROUP}\n`,
      });
    } catch {
      // a link already gone, or the namespace with it
    }
  }
}
