// The Linux datapath driver: makes one host's kernel (network namespaces, bridges, veths,
// addresses, routes, tc shapers, nft tables, VXLAN devices with their FDB and neighbour
// entries, uplinks, host endpoints) match a DesiredHost. Public API, by name; the agent
// reaches it through ../index.ts createDatapath and the interface in ../driver.ts.

export { LinuxDatapath } from "./driver.js";
export type { LinuxDatapathOptions, ReconcileOptions, ReconcileReport } from "./driver.js";
export { probeFeatures } from "./features.js";
export { HOST_GROUP } from "./plan.js";
export type { ChangeSummary, ReconcileError } from "./plan.js";
export { NAT_TABLE } from "./renderOverlay.js";
