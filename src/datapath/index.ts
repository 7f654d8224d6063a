// The datapath: what the agent asks of a host's networking (driver.ts DatapathDriver), the desired state it
// hands over (types.ts), what errors and counters mean whatever driver made them, and the drivers themselves,
// chosen by name: linux/ (plain kernel networking: ip, tc, nft) and ovs/ (an Open vSwitch bridge and OpenFlow
// pipeline). Public API, by name.

import type { Logger } from "pino";

import { existsSync } from "node:fs";

import { UpstreamError, ValidationError } from "../lib/errors.js";
import { run } from "../lib/process.js";
import { agentExecutor } from "../lib/spawner.js";
import type { FlowSetOptions } from "../policy/index.js";
import type { DatapathDriver } from "./driver.js";
import { LinuxDatapath, probeFeatures } from "./linux/index.js";
import { OvsDatapath } from "./ovs/driver.js";
import type { FlowRecordMode } from "./ovs/flow-record-flows.js";

export type {
  CountedFlow,
  DatapathChange,
  DatapathDriver,
  DatapathError,
  DatapathErrorOwner,
  DatapathReport,
  FlowCounts,
  FlowListChoice,
  FlowTotals,
  RuleCounters,
} from "./driver.js";
export { concernsUnit, errorsOfPorts, errorsOfUnit } from "./errors.js";
export type { DatapathUnit } from "./errors.js";
export { hostIPsOverlap } from "./ports.js";

/** The drivers netplugin has, by the name `--datapath` takes. */
export const DATAPATH_DRIVERS = ["linux", "ovs"] as const;
export type DatapathName = (typeof DATAPATH_DRIVERS)[number];

export function isDatapathName(name: string): name is DatapathName {
  return (DATAPATH_DRIVERS as readonly string[]).includes(name);
}

export interface DatapathOptions {
  /** The host's prefix (DesiredHost.prefix): what the start-up probe names what it makes after. */
  prefix: string;
  /**
   * Check at once that this machine can run the driver, naming what it lacks, rather than failing later in the
   * middle of a run; default true. Removing what an agent made (`--cleanup`) needs less, and must work anyway.
   */
  probe?: boolean;
  logger?: Logger;
  /**
   * The ovs driver: where Open vSwitch's database and ovs-vswitchd's sockets are, and the flow records it learns in
   * the bridge (OvsDatapathOptions).
   */
  ovs?: { db?: string; rundir?: string; controller?: string; uplinkAccessVlan?: number; flowRecords?: { mode: FlowRecordMode; cap: number } };
  /** The linux driver: how the tenants' tables count connection attempts for the flow records; undefined: not at all. */
  flowSets?: FlowSetOptions;
}

/**
 * The driver of that name, ready to reconcile. Throws ValidationError for a name no driver has, UpstreamError
 * (naming the missing feature) when the probe finds this machine cannot run it.
 */
export async function createDatapath(name: string, options: DatapathOptions): Promise<DatapathDriver> {
  if (!isDatapathName(name)) {
    throw new ValidationError(`Cannot use the datapath "${name}": expected one of ${DATAPATH_DRIVERS.join(", ")}`, [
      { path: "datapath", message: `unknown driver "${name}"` },
    ]);
  }
  const executor = agentExecutor();
  if (name === "ovs") {
    const db = options.ovs?.db ?? "unix:/var/run/openvswitch/db.sock";
    if (options.probe !== false) {
      const r = await run(["ovs-vsctl", `--db=${db}`, "--timeout=5", "show"]);
      if (r.code !== 0) throw new UpstreamError(`Cannot use the ovs datapath: Open vSwitch does not answer at ${db}: ${r.stderr.trim() || `ovs-vsctl exited ${r.code}`}`);
    }
    // The kernel datapath where the module is loaded, else OVS's userspace one (slower, but anywhere).
    const datapathType = existsSync("/sys/module/openvswitch") ? "system" : "netdev";
    return new OvsDatapath(executor, {
      db,
      ...(options.ovs?.rundir === undefined ? {} : { rundir: options.ovs.rundir }),
      ...(options.ovs?.controller === undefined ? {} : { controller: options.ovs.controller }),
      ...(options.ovs?.uplinkAccessVlan === undefined ? {} : { uplinkAccessVlan: options.ovs.uplinkAccessVlan }),
      ...(options.ovs?.flowRecords === undefined ? {} : { flowRecords: options.ovs.flowRecords }),
      datapathType,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
  }
  if (options.probe !== false) await probeFeatures(executor, options.prefix);
  return new LinuxDatapath(executor, {
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.flowSets === undefined ? {} : { flowSets: options.flowSets }),
  });
}
