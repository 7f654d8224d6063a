// The seams the speaker is built on.

/**
 * Runs argv (no shell) and resolves with its stdout; rejects with a ProcessError (argv, exit code,
 * stderr) when it fails. `netns` runs it inside that named network namespace. Executor.run from
 * src/lib/process.ts fits.
 */
export type RunCommand = (argv: string[], options?: { netns?: string; stdin?: string }) => Promise<string>;

/** Contiv's Bgp oper fields, as the agent reports them for /inspect/bgp. */
export interface BgpInspect {
  /** gobgp session state in Contiv's spelling ("established", "active", "idle", …); "" when BGP is not configured. */
  neighborStatus: string;
  /** "up" or "down"; "" when BGP is not configured. */
  adminStatus: string;
  numRoutes: number;
  /** Learned prefixes with their next hops, "10.1.2.5/32 via 198.18.0.12". */
  routes: string[];
}
