// Carries out a Plan through the Executor and decides nothing. Steps of one tenant namespace run in plan
// order; consecutive ip (tc, bridge) lines for the same target become one `ip -batch -` (`tc -batch -`,
// `bridge -batch -`) call run with -force, so one bad line does not keep the others from being applied, and
// "Command failed -:N" tells which step failed. Consecutive conntrack lines become one `conntrack -R -`
// (CONNTRACK_BATCH), which names no line: when it fails, all of its steps did (deleting entries again is
// harmless). Consecutive runs in different containers run at the same time; those in a container whose veth
// pair could not be made are skipped: the interface there is not ours. Namespaces run independently: a failure
// in one never stops another. Steps for the agent's own namespace run there, or in `hostNamespace` when a test
// simulates hosts.

import { errorMessage } from "../../lib/errors.js";
import type { Executor } from "../../lib/process.js";
import { CONNTRACK_BATCH, containerCommand, failedBatchLines, hostCommand } from "./tools.js";
import { mapLimit } from "./mapLimit.js";
import { isBatchTool, type Plan, type Step, type StepTarget } from "./plan.js";

export interface StepFailure {
  namespace: string;
  /** The steps that did not take effect. */
  steps: Step[];
  message: string;
  error: Error;
}

export interface ApplyResult {
  applied: Step[];
  failures: StepFailure[];
}

export interface ApplyOptions {
  /** Namespaces applied at the same time; default 4. */
  concurrency?: number;
  /** Named namespace standing in for the agent's own (tests that simulate hosts); default: the process's. */
  hostNamespace?: string;
  signal?: AbortSignal;
}

/** One process to spawn: argv (+ namespace for ip netns exec) and the steps it carries. */
export interface Invocation {
  argv: string[];
  netns?: string;
  stdin?: string;
  /** Set for -batch invocations: line N of stdin is steps[N-1]. */
  batch: boolean;
  steps: Step[];
}

function sameTarget(a: StepTarget, b: StepTarget): boolean {
  if (a.kind === "host" || b.kind === "host") return a.kind === b.kind;
  if (a.kind === "namespace" && b.kind === "namespace") return a.name === b.name;
  if (a.kind === "container" && b.kind === "container") return a.path === b.path;
  return false;
}

function batchCommand(tool: "ip" | "tc" | "bridge" | "conntrack", target: StepTarget, hostNamespace?: string): { argv: string[]; netns?: string } {
  const argv = tool === "conntrack" ? CONNTRACK_BATCH : [tool, "-force", "-batch", "-"];
  switch (target.kind) {
    case "namespace":
      // ip, tc and bridge enter a named namespace themselves; conntrack has no such option.
      return tool === "conntrack" ? { argv, netns: target.name } : { argv: [tool, "-n", target.name, ...argv.slice(1)] };
    case "container":
      return { argv: containerCommand(target.path, argv) };
    case "host":
      return hostCommand(argv, hostNamespace);
  }
}

function single(step: Step, hostNamespace?: string): Invocation {
  const base = { batch: false, steps: [step], ...(step.stdin === undefined ? {} : { stdin: step.stdin }) };
  const inTarget = (argv: string[]): Invocation => {
    if (step.target.kind === "namespace") return { ...base, argv, netns: step.target.name };
    if (step.target.kind === "container") return { ...base, argv: containerCommand(step.target.path, argv) };
    const host = hostCommand(argv, hostNamespace);
    return { ...base, argv: host.argv, ...(host.netns === undefined ? {} : { netns: host.netns }) };
  };
  switch (step.tool) {
    case "netns":
      // Namespace names are files: never run inside another namespace.
      return { ...base, argv: ["ip", "netns", ...step.args] };
    case "sysctl":
      return inTarget(["sysctl", ...step.args]);
    case "nft":
      return inTarget(["nft", ...step.args]);
    case "conntrack":
      return inTarget(["conntrack", ...step.args]);
    case "ethtool":
      return inTarget(["ethtool", ...step.args]);
    case "ip":
    case "tc":
    case "bridge":
      return { ...base, argv: [step.tool, ...step.args] };
  }
}

/** Groups one namespace's steps into the processes that carry them out, in order. */
export function invocations(steps: Step[], hostNamespace?: string): Invocation[] {
  const result: Invocation[] = [];
  for (const step of steps) {
    if (!isBatchTool(step.tool)) {
      result.push(single(step, hostNamespace));
      continue;
    }
    const last = result[result.length - 1];
    const lastStep = last?.steps[0];
    if (last !== undefined && last.batch && lastStep?.tool === step.tool && sameTarget(lastStep.target, step.target)) {
      last.steps.push(step);
      last.stdin += `${step.args.join(" ")}\n`;
    } else {
      result.push({ ...batchCommand(step.tool, step.target, hostNamespace), stdin: `${step.args.join(" ")}\n`, batch: true, steps: [step] });
    }
  }
  return result;
}

/** How many container namespaces of one tenant are configured at the same time. */
const CONTAINERS_AT_ONCE = 8;

async function applyNamespace(
  executor: Executor,
  steps: Step[],
  result: ApplyResult,
  options: ApplyOptions,
): Promise<void> {
  const { signal } = options;
  const namespace = steps[0]!.namespace;
  const runs = invocations(steps, options.hostNamespace);
  /** Container namespaces whose veth pair could not be made: what is there under that name is not ours. */
  const unmade = new Set<string>();
  /** Runs one process; the error when nothing else of this tenant can succeed (its namespace could not be made). */
  const runOne = async (run: Invocation): Promise<Error | undefined> => {
    const target = run.steps[0]!.target;
    if (target.kind === "container" && unmade.has(target.path)) {
      const error = new Error(`Skipped ${run.steps.length} steps in ${target.path}: the veth pair into it could not be made`);
      result.failures.push({ namespace, steps: run.steps, message: error.message, error });
      return undefined;
    }
    try {
      await executor.run(run.argv, {
        ...(run.stdin === undefined ? {} : { stdin: run.stdin }),
        ...(run.netns === undefined ? {} : { netns: run.netns }),
        ...(signal === undefined ? {} : { signal }),
      });
      result.applied.push(...run.steps);
      return undefined;
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      const lines = run.batch ? failedBatchLines(error) : [];
      const failed = lines.length > 0 ? run.steps.filter((_, n) => lines.includes(n + 1)) : run.steps;
      result.applied.push(...run.steps.filter((s) => !failed.includes(s)));
      result.failures.push({ namespace, steps: failed, message: errorMessage(error), error });
      for (const path of failed.map(pairInto)) if (path !== undefined) unmade.add(path);
      return run.steps.some((s) => s.tool === "netns" && s.action === "create") ? error : undefined;
    }
  };
  for (let i = 0; i < runs.length; ) {
    const run = runs[i]!;
    if (run.steps[0]!.target.kind === "container") {
      // Consecutive runs in containers (the container sides of a tenant's new endpoints) touch nothing of each
      // other: each container's in order, the containers at the same time.
      let j = i;
      while (j < runs.length && runs[j]!.steps[0]!.target.kind === "container") j++;
      const byContainer = new Map<string, Invocation[]>();
      for (const r of runs.slice(i, j)) {
        const path = (r.steps[0]!.target as { path: string }).path;
        byContainer.set(path, [...(byContainer.get(path) ?? []), r]);
      }
      await mapLimit([...byContainer.values()], CONTAINERS_AT_ONCE, async (own) => {
        for (const r of own) await runOne(r);
      });
      i = j;
      continue;
    }
    const fatal = await runOne(run);
    if (fatal !== undefined) {
      const skipped = runs.slice(i + 1).flatMap((r) => r.steps);
      if (skipped.length > 0) {
        result.failures.push({
          namespace,
          steps: skipped,
          message: `Skipped ${skipped.length} steps: namespace "${namespace}" could not be created`,
          error: fatal,
        });
      }
      return;
    }
    i++;
  }
}

/** The container namespace a step making a veth pair puts its peer in (diffEndpoint.ts createPair). */
function pairInto(step: Step): string | undefined {
  if (step.phase !== "veth" || step.action !== "create" || step.args[0] !== "link" || step.args[1] !== "add") return undefined;
  const at = step.args.indexOf("netns");
  return at < 0 ? undefined : step.args[at + 1];
}

/** Applies the plan; never throws for a kernel failure, which is reported in the result instead. */
export async function applyPlan(executor: Executor, plan: Plan, options: ApplyOptions = {}): Promise<ApplyResult> {
  const byNamespace = new Map<string, Step[]>();
  for (const step of plan.steps) {
    const list = byNamespace.get(step.namespace);
    if (list === undefined) byNamespace.set(step.namespace, [step]);
    else list.push(step);
  }
  const result: ApplyResult = { applied: [], failures: [] };
  await mapLimit([...byNamespace.values()], options.concurrency ?? 4, (steps) =>
    applyNamespace(executor, steps, result, options),
  );
  return result;
}
