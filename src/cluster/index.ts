// Simulated multi-host clusters on one machine (network namespaces), for tests, benchmarks and the demo.
export { Cluster, NETMASTER_ADDRESS, OUTSIDE_ADDRESS, removeNamespaces } from "./cluster.js";
export type { ClusterHost, ClusterOptions, CniOutcome } from "./cluster.js";
export { unixRequest } from "./http.js";
