// The Linux datapath driver: makes one host's kernel (network namespaces, bridges, veths,
// addresses, routes, tc shapers, nft tables, VXLAN devices with their FDB and neighbour
// entries, uplinks, host endpoints) match a DesiredHost. Public API, by name.

export { LinuxDatapath } from "./driver.js";
export type { ChangeSummary, LinuxDatapathOptions, ReconcileError, ReconcileReport } from "./driver.js";
export { hostCommand, KernelError, RealExecutor } from "./executor.js";
export type { Executor, RealExecutorOptions, RunOptions } from "./executor.js";
export { FakeExecutor } from "./fakeExecutor.js";
export { probeFeatures } from "./features.js";
export type { FakeCall, FakeResponse } from "./fakeExecutor.js";
export { renderHost, tenantSysctls, defaultBurst } from "./render.js";
export { observeHost } from "./observe.js";
export { diffHost } from "./diff.js";
export type { DiffOptions } from "./diff.js";
export { applyPlan } from "./apply.js";
export type { ApplyOptions, ApplyResult, StepFailure } from "./apply.js";
export { describeStep, HOST_GROUP, PHASES } from "./plan.js";
export { NAT_TABLE, UPLINK_RANGE } from "./renderOverlay.js";
export { hostIPsOverlap } from "./renderPorts.js";
export type { Action, Phase, Plan, Problem, Step, StepTarget, Tool } from "./plan.js";
export { gatewayMac, ifbName } from "./addr.js";
export type {
  BridgeState,
  EndpointState,
  HostEndpointState,
  HostNamespaceState,
  HostState,
  ObservedHost,
  ObservedHostNamespace,
  ObservedTenant,
  OwnedNftTable,
  Shaper,
  TenantState,
  UplinkState,
  VxlanState,
} from "./state.js";
