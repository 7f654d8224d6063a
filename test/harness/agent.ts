// One agent for single-host tests, on a one-host Cluster (src/cluster): the
// agent runs in its own host namespace, never in the machine's, so whatever it
// makes there (uplinks, NAT, forwarding) stays off the machine's own network.

import { Cluster, defaultDatapath, type ClusterHost } from "../../src/cluster/index.js";
import { hostPrefix } from "../../src/datapath/names.js";
import { unixRequest } from "../../src/cluster/index.js";

export interface CniRun {
  /** null when the executable was killed. */
  code: number | null;
  out: Record<string, unknown>;
  stdout: string;
}

export async function agentGet<T>(socketPath: string, path: string): Promise<T> {
  const r = await unixRequest(socketPath, "GET", path);
  return JSON.parse(r.text) as T;
}

export class TestAgent {
  private constructor(
    readonly cluster: Cluster,
    readonly host: ClusterHost,
  ) {}

  /** A one-host cluster: netmaster on the underlay, this agent in host namespace 1. */
  /** `ovsAgentArgs`: more flags for the agent when the cluster runs the OVS datapath (NETPLUGIN_CLUSTER_DATAPATH). */
  static async start(options: { fwdMode?: "bridge" | "routing"; ovsAgentArgs?: string[] } = {}): Promise<TestAgent> {
    const agentArgs = defaultDatapath() === "ovs" ? (options.ovsAgentArgs ?? []) : [];
    const cluster = await Cluster.up({ hosts: 1, logLevel: "warn", ...(options.fwdMode ? { fwdMode: options.fwdMode } : {}), ...(agentArgs.length > 0 ? { agentArgs } : {}) });
    return new TestAgent(cluster, cluster.hosts[0]!);
  }

  get name(): string {
    return this.host.name;
  }
  get prefix(): string {
    return hostPrefix(this.host.name);
  }
  get socket(): string {
    return this.host.socket;
  }
  get apiBase(): string {
    return this.cluster.apiBase;
  }
  logs(): string {
    return this.host.agent?.logs() ?? "";
  }

  start(): Promise<void> {
    return this.cluster.startAgent(this.host);
  }
  async kill(): Promise<void> {
    await this.host.agent?.kill();
  }
  /** Stops the agent and removes the whole cluster. */
  destroy(): Promise<void> {
    return this.cluster.down();
  }

  /** env.path: CNI_PATH (default /opt/cni/bin). */
  async cni(command: string, env: { containerId?: string; netns?: string; ifname?: string; args?: string; path?: string }, config: Record<string, unknown>): Promise<CniRun> {
    const r = await this.cluster.cni(this.host, command, env.containerId ?? "", env.netns ?? "", { name: "netplugin-test", ...config }, env.args ?? "", env.ifname ?? "eth0", env.path);
    return { code: r.code, out: r.out, stdout: JSON.stringify(r.out) };
  }
}
