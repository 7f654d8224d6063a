// How the driver calls the kernel tools (ip, tc, bridge, nft, sysctl) through the process seam
// (lib/process.ts): commands meant for the agent's own namespace, and what a tool's failure means.

import { ProcessError } from "../../lib/process.js";

/**
 * A command for the agent's own namespace. In production the agent runs inside its host's namespace and
 * commands run as they are; a test that simulates several hosts from one process names each host's
 * namespace: ip / tc / bridge then get `-n NAME`, anything else runs under `ip netns exec NAME`.
 * (`ip netns add/del` never goes through here: namespace names are a file system matter.)
 */
export function hostCommand(argv: string[], hostNamespace?: string): { argv: string[]; netns?: string } {
  if (hostNamespace === undefined) return { argv };
  const [tool, ...rest] = argv;
  if (tool === "ip" || tool === "tc" || tool === "bridge") return { argv: [tool, "-n", hostNamespace, ...rest] };
  return { argv, netns: hostNamespace };
}

/** Where `ip netns add` keeps namespace names (/var/run is /run on every current distribution). */
const NAMED_NETNS = /^\/(?:var\/)?run\/netns\/([^/]+)$/;

/**
 * A command inside a container's namespace given by path. ip, tc and bridge enter a namespace of `ip netns`
 * themselves (`-n NAME`: no second process, where nsenter is one more exec per call); a namespace elsewhere
 * (/proc/PID/ns/net, a runtime's own directory) and other tools go through `nsenter --net=PATH`.
 */
export function containerCommand(path: string, argv: string[]): string[] {
  const [tool, ...rest] = argv;
  const name = NAMED_NETNS.exec(path)?.[1];
  if (name !== undefined && (tool === "ip" || tool === "tc" || tool === "bridge")) return [tool, "-n", name, ...rest];
  return ["nsenter", `--net=${path}`, ...argv];
}

/**
 * Runs the lines on stdin as `conntrack` commands (`-R -`). conntrack opens /dev/stdin by name, which fails
 * (ENXIO) on the socket a Node child gets as stdin: `cat` puts a pipe in between. The status is conntrack's.
 */
export const CONNTRACK_BATCH = ["sh", "-c", "cat | conntrack -R -"];

const NOT_FOUND =
  /No such file or directory|Cannot find device|does not exist|No such device|No such process|Address not found|Cannot delete qdisc with handle of zero|Cannot find specified qdisc/i;

/** The tool failed because the object it addressed does not exist (device, address, route, qdisc, namespace, nft table). */
export function isNotFound(error: unknown): boolean {
  return error instanceof ProcessError && NOT_FOUND.test(error.stderr);
}

/**
 * Line numbers (1-based) that `ip -batch`/`tc -batch`/`bridge -batch` reported as failed ("Command failed -:N").
 * Empty when the tool did not say.
 */
export function failedBatchLines(error: unknown): number[] {
  if (!(error instanceof ProcessError)) return [];
  return [...error.stderr.matchAll(/Command failed -:(\d+)/g)].map((m) => Number(m[1]));
}

/** Output of a tool that does not fit what the driver expects to read: a failure of that command. */
export function unexpectedOutput(argv: string[], what: string): ProcessError {
  return new ProcessError(argv, 0, `unexpected output: ${what}`);
}
