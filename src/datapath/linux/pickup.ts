// Mid-stream pickup of TCP connections on a bridge that starts passing netfilter.
//
// A bridge passes netfilter only while one of its endpoints is policed (DesiredNetwork.netfilter). When
// it starts to, conntrack has never seen the connections already running across it, and their next
// segment (an ACK, not a SYN) would be judged as a new connection: a reply towards a whitelisted group
// would be dropped. The policy table accepts such segments on the bridges in its PICKUP_SET, and the
// datapath puts a bridge there, with a timeout, only when it switches netfilter on for it, and switches
// it on right after (the last step of the plan): once every running connection has sent a segment,
// conntrack knows it, and a bare ACK or FIN from a denied peer must be judged again. Replacing the policy table empties the set, so while a window is open the
// element goes back with the time that is left; so it does after a run that could not add it (the table
// failed to load, say): the window opened when the bridge was switched, whether or not the element took.
// A restarted agent knows of no open window: a bridge it switched on just before it stopped loses the rest
// of its window.

import { PICKUP_SET } from "../../policy/render.js";
import { NFT_TABLE } from "../names.js";
import type { Step } from "./plan.js";
import type { StepBuilder } from "./stepBuilder.js";
import type { ObservedTenant, TenantState } from "./state.js";

/** How long a bridge picks up connections after it starts passing netfilter, unless the driver is told otherwise. */
export const PICKUP_WINDOW_SECONDS = 300;

const OBJECT_PREFIX = "pickup window of bridge ";

export interface PickupState {
  windowSeconds: number;
  /** Seconds left of the open windows, by tenant namespace and bridge. */
  open: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** Open windows whose element the last try did not add, as "namespace bridge". */
  missing: ReadonlySet<string>;
}

/**
 * Whether this plan switches an existing bridge to netfilter. It does so last (diffPickup), once the policy
 * table and the bridge's pickup window are in place: switched earlier, the running connections' next
 * segments would meet a table without the window and be dropped.
 */
export function startsNetfilter(want: TenantState, have: ObservedTenant, bridge: string): boolean {
  const wanted = want.bridges.find((br) => br.name === bridge);
  const before = have.bridges.find((br) => br.name === bridge);
  return wanted?.netfilter === true && before !== undefined && !before.netfilter;
}

/**
 * Steps after the policy script (last phase): for every bridge switched to netfilter in this plan a window
 * ("create") and then the switch, and the time left of windows still open ("update") when the script
 * replaces the table or the element did not take.
 */
export function diffPickup(tenant: StepBuilder, want: TenantState, have: ObservedTenant, tableReplaced: boolean, pickup: PickupState): void {
  const left = pickup.open.get(want.namespace);
  for (const bridge of want.bridges.filter((br) => br.netfilter)) {
    const b = tenant.unit({ tenant: want.tenant, network: bridge.network });
    const seconds = left?.get(bridge.name) ?? 0;
    if (startsNetfilter(want, have, bridge.name)) {
      b.nft("create", `${OBJECT_PREFIX}${bridge.name}`, addElement(bridge.name, pickup.windowSeconds));
      b.ip("nft", "update", `bridge ${bridge.name}`, ["link", "set", bridge.name, "type", "bridge", "nf_call_iptables", "1", "nf_call_ip6tables", "1"]);
    } else if (seconds > 0 && (tableReplaced || pickup.missing.has(`${want.namespace} ${bridge.name}`))) {
      b.nft("update", `${OBJECT_PREFIX}${bridge.name}`, addElement(bridge.name, seconds));
    }
  }
}

function addElement(bridge: string, seconds: number): string[] {
  return ["add", "element", "inet", NFT_TABLE, PICKUP_SET, `{ "${bridge}" . "${bridge}" timeout ${seconds}s }`];
}

/** The driver's memory of open windows: opened by "create" steps, closed by time or a namespace deleted or made. */
export class PickupWindows {
  /** Namespace → bridge → when its window closes (ms since the epoch). */
  private readonly until = new Map<string, Map<string, number>>();
  private readonly missing = new Set<string>();

  constructor(private readonly windowSeconds = PICKUP_WINDOW_SECONDS) {}

  state(now: number): PickupState {
    const open = this.open(now);
    for (const key of this.missing) {
      const [namespace, bridge] = key.split(" ") as [string, string];
      if (!open.get(namespace)?.has(bridge)) this.missing.delete(key);
    }
    return { windowSeconds: this.windowSeconds, open, missing: new Set(this.missing) };
  }

  private open(now: number): Map<string, Map<string, number>> {
    const out = new Map<string, Map<string, number>>();
    for (const [namespace, bridges] of this.until) {
      for (const [bridge, end] of bridges) {
        if (end <= now) bridges.delete(bridge);
        else out.set(namespace, (out.get(namespace) ?? new Map()).set(bridge, Math.ceil((end - now) / 1000)));
      }
      if (bridges.size === 0) this.until.delete(namespace);
    }
    return out;
  }

  /** `applied` and `failed`: the steps of a run that took and that did not. */
  record(applied: Step[], failed: Step[], now: number): void {
    for (const step of applied) if (step.tool === "netns") this.until.delete(step.namespace);
    for (const [steps, took] of [[applied, true], [failed, false]] as const) {
      for (const step of steps) {
        if (step.tool !== "nft" || !step.object.startsWith(OBJECT_PREFIX)) continue;
        const bridge = step.object.slice(OBJECT_PREFIX.length);
        if (step.action === "create") {
          const bridges = this.until.get(step.namespace) ?? new Map<string, number>();
          bridges.set(bridge, now + this.windowSeconds * 1000);
          this.until.set(step.namespace, bridges);
        }
        if (took) this.missing.delete(`${step.namespace} ${bridge}`);
        else this.missing.add(`${step.namespace} ${bridge}`);
      }
    }
  }
}
