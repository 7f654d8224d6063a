// A scripted Executor for unit tests: replays argv → stdout or ProcessError and records
// every call, so tests can assert what would have run and in which order.

import { ProcessError, spawnedArgv, type Executor, type RunOptions } from "../../../lib/process.js";

export interface FakeCall {
  /** argv as spawned, "ip netns exec NS" prefix included when options.netns was set. */
  argv: string[];
  stdin: string | undefined;
}

export interface FakeResponse {
  stdout?: string;
  /** Fail with this stderr (and exit code, default 1). */
  stderr?: string;
  exitCode?: number;
}

interface Rule {
  match: string | RegExp;
  response: FakeResponse;
  /** How many more calls this rule answers; Infinity for always. */
  remaining: number;
}

/** The text a rule matches: the spawned argv joined with single spaces. */
export function callText(argv: string[]): string {
  return argv.join(" ");
}

export class FakeExecutor implements Executor {
  readonly calls: FakeCall[] = [];
  private readonly rules: Rule[] = [];

  /**
   * @param fallback answer for calls no rule matches; undefined makes such a call throw, so a test
   *   notices a command it did not expect.
   */
  constructor(private readonly fallback?: FakeResponse) {}

  /**
   * Answer calls whose spawned argv text equals (string) or matches (RegExp) `match`, `times` times.
   * The rule added last wins, so a test can override one answer of a shared script.
   */
  on(match: string | RegExp, response: FakeResponse, times = Infinity): this {
    this.rules.push({ match, response, remaining: times });
    return this;
  }

  async run(argv: string[], options: RunOptions = {}): Promise<string> {
    const full = spawnedArgv(argv, options.netns);
    const text = callText(full);
    this.calls.push({ argv: full, stdin: options.stdin });
    const rule = [...this.rules]
      .reverse()
      .find((r) => r.remaining > 0 && (typeof r.match === "string" ? r.match === text : r.match.test(text)));
    if (rule !== undefined) rule.remaining -= 1;
    const response = rule?.response ?? this.fallback;
    if (response === undefined) throw new Error(`FakeExecutor: unexpected command "${text}"`);
    if (response.stderr !== undefined) throw new ProcessError(full, response.exitCode ?? 1, response.stderr);
    return response.stdout ?? "";
  }

  /** Spawned commands as text, for compact assertions. */
  commands(): string[] {
    return this.calls.map((c) => callText(c.argv));
  }
}
