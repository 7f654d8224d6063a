// Our flows on the bridge brought to what render.ts wants, by Open vSwitch's own comparison: `ovs-ofctl diff-flows`
// of the bridge and a file gives the differences, and one atomic bundle applies only them (flows that stay keep
// their counters; a controller's flows, of other cookies, are left alone).

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProcessError } from "../../lib/process.js";
import { COOKIE } from "./layout.js";

/** ovs-ofctl on the bridge: its command, then its arguments; with stdin, as one bundle. */
export type Ofctl = (args: string[], stdin?: string) => Promise<string>;

/** Whether a flow as ovs-ofctl prints it carries one of our cookies (no cookie= printed: cookie 0). */
function isOurs(printed: string): boolean {
  const cookie = /\bcookie=(0x[0-9a-f]+)/.exec(printed)?.[1];
  return cookie !== undefined && (BigInt(cookie) & 0xffffn) === BigInt(COOKIE);
}

/**
 * The bundle lines that turn the bridge's flows into the file's, from `ovs-ofctl diff-flows BRIDGE FILE`: a
 * flow only on the bridge ("-", ours only) is deleted by its exact match, a flow only in the file ("+") added
 * (an add replaces a flow of the same match: a changed flow is "-" and "+"). Deletes first. Pure.
 */
export function flowChanges(diff: string): string[] {
  const deletes: string[] = [];
  const adds: string[] = [];
  for (const line of diff.split("\n")) {
    const flow = line.slice(1).trim();
    if (line.startsWith("+")) adds.push(`add ${flow}`);
    if (line.startsWith("-") && isOurs(flow)) {
      const match = flow.replace(/\s*actions=.*$/, "").replace(/\s*\bcookie=0x[0-9a-f]+/, "");
      deletes.push(`delete_strict ${match} cookie=${/\bcookie=(0x[0-9a-f]+)/.exec(flow)![1]}/-1`);
    }
  }
  return [...deletes, ...adds];
}

/** Every flow of ours: the policy's carry the tenant and a rule number above COOKIE (layout.ts). */
export const OUR_COOKIES = `0x${COOKIE.toString(16)}/0xffff`;

/**
 * Brings our flows on the bridge to `flows` with one atomic bundle of only the differences, as OVS itself
 * finds them (`diff-flows` of the bridge and a file): flows that stay keep their counters, and a restarted
 * agent whose flows are right changes nothing. Flows of other cookies (a controller's) are left alone.
 * Returns how many flow changes the bundle made.
 */
export async function syncFlows(ofctl: Ofctl, flows: string[]): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "netplugin-flows-"));
  const file = join(dir, "flows");
  let diff = "";
  try {
    writeFileSync(file, flows.join("\n") + "\n");
    await ofctl(["diff-flows", file]);
  } catch (err) {
    if (!(err instanceof ProcessError && err.exitCode === 2)) throw err;
    diff = err.stdout; // exit 2: there are differences
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const bundle = flowChanges(diff);
  if (bundle.length > 0) await ofctl(["add-flows", "-"], bundle.join("\n") + "\n");
  return bundle.length;
}

/** How many flows of ours the bridge has (ovs-vswitchd keeps none across a restart). */
export async function ourFlowCount(ofctl: Ofctl): Promise<number> {
  const dump = await ofctl(["dump-flows", `cookie=${OUR_COOKIES}`, "--no-stats"]);
  return dump.split("\n").filter((l) => l.includes("actions=")).length;
}
