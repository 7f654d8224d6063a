// The agent's Prometheus metrics, served at GET /metrics on its local socket and, with --metrics-listen, on
// a TCP port for a scraper. What an operator of container networking watches: how long CNI calls take (the
// pod set-up time runtimes wait on), how long a datapath sync takes and how often it fails, whether the
// agent follows netmaster's state (revision, snapshots taken), and the process itself.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** Seconds: CNI calls take tens of milliseconds alone, seconds when many arrive at once. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface AgentGauges {
  /** The state revision the agent has applied. */
  revision: () => number;
  /** Container interfaces attached on this host. */
  attachments: () => number;
}

export class AgentMetrics {
  readonly registry = new Registry();
  readonly cniRequests: Histogram<"command" | "result">;
  readonly syncs: Histogram<"kind">;
  readonly syncErrors: Counter;
  readonly kernelChanges: Counter;
  readonly snapshots: Counter;

  constructor(gauges: AgentGauges) {
    const registers = [this.registry];
    this.cniRequests = new Histogram({
      name: "netplugin_cni_request_duration_seconds",
      help: "CNI calls handled by the agent, from request to answer, by command and result (ok or error)",
      labelNames: ["command", "result"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.syncs = new Histogram({
      name: "netplugin_datapath_sync_duration_seconds",
      help: "Datapath syncs (read back, compare, apply), incremental or full",
      labelNames: ["kind"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.syncErrors = new Counter({ name: "netplugin_datapath_sync_errors_total", help: "Kernel objects a sync could not read or apply (retried)", registers });
    this.kernelChanges = new Counter({ name: "netplugin_datapath_changes_total", help: "Kernel changes made by syncs", registers });
    this.snapshots = new Counter({ name: "netplugin_state_snapshots_total", help: "Full snapshots of netmaster's state taken (start, compaction, restored store)", registers });
    new Gauge({
      name: "netplugin_state_revision",
      help: "Revision of netmaster's state the agent has applied",
      registers,
      collect() {
        this.set(gauges.revision());
      },
    });
    new Gauge({
      name: "netplugin_attachments",
      help: "Container interfaces attached on this host",
      registers,
      collect() {
        this.set(gauges.attachments());
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }
}
