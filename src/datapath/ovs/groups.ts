// The driver's OpenFlow groups (service-flows.ts) on the bridge, through ovs-ofctl. Groups cannot ride in the
// flow bundle and must exist before the flows that use them, so a run is: put() before the bundle (adds the
// missing ones, changes those that do something else than wanted), the bundle, then prune()
// (deletes ours no longer wanted: deleting a group deletes the flows that use it, and the new flows use none
// of them). Only ids in our range (layout.ts GROUP_BASE) are ever touched. Both are idempotent.

import { GROUP_BASE } from "./layout.js";
import type { ServiceGroup } from "./service-flows.js";

type Ofctl = (args: string[]) => Promise<string>;

const isOurs = (id: number) => Math.floor(id / 0x10000) === GROUP_BASE / 0x10000;

/** Ids of our groups in `ovs-ofctl dump-groups` output. */
export function ourGroupIds(dump: string): number[] {
  return [...ourGroups(dump).keys()];
}

/** Our groups in `ovs-ofctl dump-groups` output: id → the line OVS printed. */
function ourGroups(dump: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of dump.split("\n")) {
    const id = /\bgroup_id=(\d+)/.exec(line)?.[1];
    if (id !== undefined && isOurs(Number(id))) out.set(Number(id), line.trim());
  }
  return out;
}

/**
 * What one of our groups does, whichever way OVS prints it: its type and the NAT targets of its buckets, in
 * order (every other part of our buckets is the same for all). A group on the bridge that does the same as
 * the wanted spec is left alone, so a restarted agent changes nothing.
 */
export function groupMeaning(text: string): string {
  const type = /\btype=(\w+)/.exec(text)?.[1] ?? "";
  const method = /\bselection_method=(\w+)/.exec(text)?.[1] ?? "";
  const alias: Record<string, string> = { nw_src: "ip_src", nw_dst: "ip_dst" };
  const fields = (/\bfields\(([^)]*)\)/.exec(text)?.[1] ?? "")
    .split(",")
    .filter((f) => f !== "")
    .map((f) => alias[f] ?? f)
    .sort();
  return [type, method, fields.join(","), ...[...text.matchAll(/nat\(dst=([^)]+)\)/g)].map((m) => m[1])].join(" ");
}

export class OvsGroups {
  /** Spec by id of what this process last put (forgotten on failure: put again next run). */
  private readonly put = new Map<number, string>();

  constructor(private readonly ofctl: Ofctl) {}

  /** Adds or changes the wanted groups; returns what it did, and the ids of ours to prune after the flows. */
  async putGroups(
    wanted: readonly ServiceGroup[],
  ): Promise<{ done: Array<{ action: "create" | "update"; object: string }>; stale: number[]; before: Map<number, string> }> {
    const onBridge = ourGroups(await this.ofctl(["dump-groups"]));
    const have = new Set(onBridge.keys());
    const done: Array<{ action: "create" | "update"; object: string }> = [];
    for (const g of wanted) {
      const same = this.put.get(g.id) === g.spec || (onBridge.has(g.id) && groupMeaning(onBridge.get(g.id)!) === groupMeaning(g.spec));
      if (have.has(g.id) && same) {
        this.put.set(g.id, g.spec);
        continue;
      }
      this.put.delete(g.id);
      await this.ofctl([have.has(g.id) ? "mod-group" : "add-group", g.spec]);
      this.put.set(g.id, g.spec);
      done.push({ action: have.has(g.id) ? "update" : "create", object: `group ${g.id}` });
    }
    const ids = new Set(wanted.map((g) => g.id));
    return { done, stale: [...have].filter((id) => !ids.has(id)).sort((a, b) => a - b), before: onBridge };
  }

  /** Deletes the given groups of ours (absent ones are no error). */
  async prune(stale: readonly number[]): Promise<void> {
    for (const id of stale) {
      this.put.delete(id);
      await this.ofctl(["del-groups", `group_id=${id}`]);
    }
  }
}
