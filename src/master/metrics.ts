// netmaster's Prometheus metrics, served at GET /metrics beside the REST API: how long API calls take
// (by route, so a slow endpoint allocation stands out from a slow list), the agents following the state
// stream and the snapshots they had to take, the state revision, leadership, and the process itself.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface MasterGauges {
  revision: () => number;
  isLeader: () => boolean;
}

export class MasterMetrics {
  readonly registry = new Registry();
  readonly requests: Histogram<"method" | "route" | "status">;
  readonly streams: Gauge;
  readonly snapshots: Counter;
  readonly streamLines: Counter;
  readonly streamBytes: Counter;

  constructor(gauges: MasterGauges) {
    const registers = [this.registry];
    this.requests = new Histogram({
      name: "netmaster_http_request_duration_seconds",
      help: "REST API requests (the agents' state stream aside), by method, route and status",
      labelNames: ["method", "route", "status"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.streams = new Gauge({ name: "netmaster_state_streams", help: "Agents following the state stream from this replica", registers });
    this.snapshots = new Counter({ name: "netmaster_state_stream_snapshots_total", help: "State streams that began with a snapshot of their host's slice instead of resuming", registers });
    this.streamLines = new Counter({ name: "netmaster_state_stream_lines_total", help: "Lines sent to agents on their state streams (each host gets its slice only)", registers });
    this.streamBytes = new Counter({ name: "netmaster_state_stream_bytes_total", help: "Bytes sent to agents on their state streams", registers });
    new Gauge({
      name: "netmaster_state_revision",
      help: "Revision of the state this replica has loaded",
      registers,
      collect() {
        this.set(gauges.revision());
      },
    });
    new Gauge({
      name: "netmaster_leader",
      help: "1 when this replica is the leader, else 0",
      registers,
      collect() {
        this.set(gauges.isLeader() ? 1 : 0);
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }
}
