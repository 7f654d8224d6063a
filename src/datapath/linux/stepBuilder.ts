// Collects the steps of one tenant namespace, creations and deletions apart, and emits
// them in plan order: deletions first from the last phase back (nft → … → bridge), then
// creations and updates from the first phase on (namespace → … → nft). Within a phase the
// order of calls is kept, so "delete the stale veth" comes before "create it again".

import { phaseIndex, type Action, type Phase, type Problem, type Step, type StepTarget } from "./plan.js";

const HOST: StepTarget = { kind: "host" };

export class StepBuilder {
  private readonly creates: Step[] = [];
  private readonly deletes: Step[] = [];
  readonly problems: Problem[] = [];
  private readonly tenantTarget: StepTarget;

  constructor(readonly namespace: string) {
    this.tenantTarget = { kind: "namespace", name: namespace };
  }

  private push(step: Omit<Step, "namespace">): void {
    const full: Step = { namespace: this.namespace, ...step };
    (step.action === "delete" ? this.deletes : this.creates).push(full);
  }

  /** One `ip` batch line inside the tenant namespace. */
  ip(phase: Phase, action: Action, object: string, args: string[]): void {
    this.push({ phase, action, object, tool: "ip", target: this.tenantTarget, args });
  }

  /** One `ip` batch line in the agent's own namespace. */
  hostIp(phase: Phase, action: Action, object: string, args: string[]): void {
    this.push({ phase, action, object, tool: "ip", target: HOST, args });
  }

  /** One `bridge` batch line inside the tenant namespace. */
  bridge(phase: Phase, action: Action, object: string, args: string[]): void {
    this.push({ phase, action, object, tool: "bridge", target: this.tenantTarget, args });
  }

  /** One `ip` batch line inside a container namespace (by path). */
  containerIp(phase: Phase, action: Action, object: string, path: string, args: string[]): void {
    this.push({ phase, action, object, tool: "ip", target: { kind: "container", path }, args });
  }

  /** One `tc` batch line inside the tenant namespace. */
  tc(action: Action, object: string, args: string[]): void {
    this.push({ phase: "qdisc", action, object, tool: "tc", target: this.tenantTarget, args });
  }

  /** `phase`: "sysctl" unless the keys belong to a device made in a later phase (a bridge's). */
  sysctl(object: string, args: string[], target: StepTarget = this.tenantTarget, phase: Phase = "sysctl"): void {
    this.push({ phase, action: "update", object, tool: "sysctl", target, args });
  }

  nft(action: Action, object: string, args: string[], stdin?: string, target: StepTarget = this.tenantTarget): void {
    this.push({ phase: "nft", action, object, tool: "nft", target, args, ...(stdin === undefined ? {} : { stdin }) });
  }

  netns(action: Action, args: string[]): void {
    this.push({ phase: "namespace", action, object: `namespace ${this.namespace}`, tool: "netns", target: HOST, args });
  }

  problem(object: string, message: string): void {
    this.problems.push({ namespace: this.namespace, object, message });
  }

  /** The steps in the order they must run. */
  steps(): Step[] {
    const stable = (list: Step[], direction: 1 | -1): Step[] =>
      list
        .map((step, i) => ({ step, i }))
        .sort((a, b) => direction * (phaseIndex(a.step.phase) - phaseIndex(b.step.phase)) || a.i - b.i)
        .map((x) => x.step);
    return [...stable(this.deletes, -1), ...stable(this.creates, 1)];
  }
}
