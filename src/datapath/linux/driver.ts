// The Linux datapath of one host: reconcile() = render → observe → diff → apply. It is
// level-triggered and restart-safe: given the same DesiredHost twice, or after a restart,
// it changes nothing that is already right (no link re-created, no address flushed), so
// established connections survive. Calls are serialised: one reconcile at a time.

import type { Logger } from "pino";

import { ownsNamespace } from "../names.js";
import type { DesiredHost } from "../types.js";
import { ValidationError } from "../../lib/errors.js";
import { applyPlan, type StepFailure } from "./apply.js";
import { diffHost } from "./diff.js";
import { KernelError, type Executor } from "./executor.js";
import { listNamespaces, observeHost } from "./observe.js";
import { parseLinks, linkKind } from "./parse.js";
import { ifbName } from "./addr.js";
import type { Action, Phase, Plan, Problem } from "./plan.js";
import { renderHost } from "./render.js";
import { StepBuilder } from "./stepBuilder.js";

export interface LinuxDatapathOptions {
  /** Tenant namespaces observed and applied at the same time; default 4. */
  concurrency?: number;
  logger?: Logger;
}

export interface ChangeSummary {
  namespace: string;
  phase: Phase;
  action: Action;
  object: string;
}

export interface ReconcileError {
  namespace: string;
  /** Objects that were not brought to the wanted state (empty when the namespace could not be read). */
  objects: string[];
  message: string;
  cause: Error | null;
}

export interface ReconcileReport {
  /** Changes that took effect, in the order they were made. */
  changes: ChangeSummary[];
  /** Failures and problems; non-empty means "try again later". */
  errors: ReconcileError[];
  durationMs: number;
}

function summary(s: { namespace: string; phase: Phase; action: Action; object: string }): ChangeSummary {
  return { namespace: s.namespace, phase: s.phase, action: s.action, object: s.object };
}

function failureError(f: StepFailure): ReconcileError {
  return { namespace: f.namespace, objects: [...new Set(f.steps.map((s) => s.object))], message: f.message, cause: f.error };
}

function problemError(p: Problem): ReconcileError {
  return { namespace: p.namespace, objects: [p.object], message: `Cannot configure ${p.object}: ${p.message}`, cause: null };
}

const PREFIX = /^[A-Za-z0-9]{3,}$/;

export class LinuxDatapath {
  private readonly appliedNft = new Map<string, string>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly concurrency: number;
  private readonly logger: Logger | undefined;

  constructor(
    private readonly executor: Executor,
    options: LinuxDatapathOptions = {},
  ) {
    this.concurrency = options.concurrency ?? 4;
    this.logger = options.logger;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** What reconcile(desired) would do now, without doing it. Throws ValidationError for bad input. */
  plan(desired: DesiredHost): Promise<Plan> {
    return this.serial(async () => (await this.observeAndDiff(desired)).plan);
  }

  private async observeAndDiff(desired: DesiredHost): Promise<{ plan: Plan; errors: ReconcileError[] }> {
    const wanted = renderHost(desired);
    const observed = await observeHost(this.executor, wanted, { concurrency: this.concurrency });
    const plan = diffHost(wanted, observed, { appliedNft: this.appliedNft });
    const errors = observed.failures.map((f) => ({
      namespace: f.namespace,
      objects: [],
      message: `Cannot read namespace "${f.namespace}": ${f.error.message}`,
      cause: f.error,
    }));
    return { plan, errors };
  }

  /**
   * Makes the kernel match `desired` and removes tenant namespaces of its prefix that are no longer
   * wanted. Idempotent. Kernel failures do not throw: they are in the report, and one tenant's
   * failure does not stop the others. Throws ValidationError when `desired` cannot be rendered.
   */
  reconcile(desired: DesiredHost): Promise<ReconcileReport> {
    return this.serial(async () => {
      const started = Date.now();
      const { plan, errors } = await this.observeAndDiff(desired);
      const result = await applyPlan(this.executor, plan, { concurrency: this.concurrency });
      for (const step of result.applied) {
        if (step.tool === "nft" && step.action !== "delete") this.appliedNft.set(step.namespace, step.stdin ?? "");
        else if (step.tool === "nft" || step.tool === "netns") this.appliedNft.delete(step.namespace);
      }
      for (const failure of result.failures) {
        if (failure.steps.some((s) => s.tool === "nft")) this.appliedNft.delete(failure.namespace);
      }
      const report: ReconcileReport = {
        changes: result.applied.map(summary),
        errors: [...errors, ...plan.problems.map(problemError), ...result.failures.map(failureError)],
        durationMs: Date.now() - started,
      };
      if (report.changes.length > 0) {
        this.logger?.info({ op: "reconcile", changes: report.changes.length, durationMs: report.durationMs }, "datapath changed");
      } else {
        this.logger?.debug({ op: "reconcile", durationMs: report.durationMs }, "datapath in sync");
      }
      return report;
    });
  }

  /**
   * Removes an endpoint's veth (and with it the container side) and its ifb at once, without
   * waiting for the next reconcile. Idempotent: returns false when there was nothing to remove.
   */
  removeEndpoint(target: { namespace: string; hostLink: string }): Promise<boolean> {
    return this.serial(async () => {
      const argv = ["ip", "-n", target.namespace, "-json", "-d", "link", "show"];
      let links;
      try {
        links = parseLinks(await this.executor.run(argv), argv);
      } catch (error) {
        if (error instanceof KernelError && error.isNotFound()) return false;
        throw error;
      }
      const b = new StepBuilder(target.namespace);
      const ifb = ifbName(target.hostLink);
      if (links.some((l) => l.ifname === target.hostLink && linkKind(l) === "veth")) {
        b.ip("veth", "delete", `veth ${target.hostLink}`, ["link", "del", target.hostLink]);
      }
      if (links.some((l) => l.ifname === ifb && linkKind(l) === "ifb")) {
        b.ip("veth", "delete", `ifb ${ifb}`, ["link", "del", ifb]);
      }
      const steps = b.steps();
      if (steps.length === 0) return false;
      const result = await applyPlan(this.executor, { steps, problems: [] });
      const failure = result.failures[0];
      if (failure !== undefined) throw failure.error;
      return true;
    });
  }

  /**
   * Removes every namespace carrying the prefix ("<prefix>-…") and every link in this namespace whose
   * name starts with it. Returns what it removed. Idempotent.
   */
  cleanup(prefix: string): Promise<string[]> {
    return this.serial(async () => {
      if (!PREFIX.test(prefix)) {
        throw new ValidationError(`Cannot clean up "${prefix}": a prefix has at least 3 letters or digits`, [
          { path: "prefix", message: "invalid prefix" },
        ]);
      }
      const removed: string[] = [];
      for (const namespace of (await listNamespaces(this.executor)).filter((n) => ownsNamespace(prefix, n))) {
        try {
          await this.executor.run(["ip", "netns", "del", namespace]);
          removed.push(`namespace ${namespace}`);
        } catch (error) {
          if (!(error instanceof KernelError && error.isNotFound())) throw error;
        }
        this.appliedNft.delete(namespace);
      }
      const argv = ["ip", "-json", "link", "show"];
      for (const link of parseLinks(await this.executor.run(argv), argv).filter((l) => l.ifname.startsWith(prefix))) {
        try {
          await this.executor.run(["ip", "link", "del", link.ifname]);
          removed.push(`link ${link.ifname}`);
        } catch (error) {
          if (!(error instanceof KernelError && error.isNotFound())) throw error;
        }
      }
      this.logger?.info({ op: "cleanup", prefix, removed: removed.length }, "datapath cleaned up");
      return removed;
    });
  }
}
