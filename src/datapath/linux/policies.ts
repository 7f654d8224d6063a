// The tenants' policies, compiled into the nft scripts of their tables (policy/compile.ts). Every run renders
// every tenant, but most runs change no policy, and compiling one of 10 000 rules takes ~200 ms: so the driver
// keeps each namespace's last compiled policy and compiles again only when its input differs.

import { ValidationError } from "../../lib/errors.js";
import { compilePolicy, type CompiledPolicy, type FlowSetOptions, type PolicyInput } from "../../policy/index.js";
import type { IssueList } from "./validate.js";

/** Compiles a tenant's policy; render.ts takes one, so the driver can hand it its cache. Throws what compilePolicy throws. */
export type PolicyCompiler = (namespace: string, input: PolicyInput) => CompiledPolicy;

/** Without a cache: every call compiles. */
export const compileEach: PolicyCompiler = (_namespace, input) => compilePolicy(input);

/** The script of a tenant's table; a policy that cannot be compiled is an issue at `path` (the tenant's field). */
export function renderPolicy(namespace: string, input: PolicyInput, path: string, compile: PolicyCompiler, issues: IssueList): string {
  try {
    return compile(namespace, input).script;
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    for (const issue of error.issues) issues.add(`${path}.${issue.path}`, issue.message);
    if (error.issues.length === 0) issues.add(path, error.message);
    return "";
  }
}

export class PolicyCache {
  private readonly last = new Map<string, { input: string; compiled: CompiledPolicy }>();

  /** flowSets: how every tenant's table counts connection attempts for the flow records (policy/flowsets.ts); a host-wide choice of the agent. */
  constructor(private readonly flowSets?: FlowSetOptions) {}

  readonly compile: PolicyCompiler = (namespace, given) => {
    const input = this.flowSets === undefined ? given : { ...given, flowSets: this.flowSets };
    const key = JSON.stringify(input);
    const last = this.last.get(namespace);
    if (last?.input === key) return last.compiled;
    const compiled = compilePolicy(input);
    this.last.set(namespace, { input: key, compiled });
    return compiled;
  };

  /** Forgets the namespaces not in `namespaces`. */
  keep(namespaces: ReadonlySet<string>): void {
    for (const namespace of this.last.keys()) if (!namespaces.has(namespace)) this.last.delete(namespace);
  }
}
