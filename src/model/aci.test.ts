import { CONTRACTS_TYPE_MESSAGE } from "./aci.js";
import { kinds } from "./kinds.js";
import { type Case, formatCases, nameCases, runCases } from "./testing/cases.js";

runCases(kinds.appProfile, { tenantName: "default", appProfileName: "app1", endpointGroups: ["web", "db"] }, [
  { name: "groups kept", want: { endpointGroups: ["web", "db"] } },
  { name: "groups default to []", unset: ["endpointGroups"], want: { endpointGroups: [] } },
  {
    name: "groups: element not a string",
    set: { endpointGroups: [true] },
    error: "json: cannot unmarshal bool into Go struct field AppProfile.endpointGroups of type string",
  },
  ...nameCases("tenantName", { struct: "AppProfile", max: 64, pattern: "NAME" }),
  ...nameCases("appProfileName", { struct: "AppProfile", max: 64, pattern: "NAME" }),
]);

const contracts = {
  tenantName: "default",
  contractsGroupName: "ext1",
  contractsType: "provided",
  contracts: ["uni/tn-common/brc-default"],
};
runCases(kinds.extContractsGroup, contracts, [
  { name: "contracts kept", want: { contracts: ["uni/tn-common/brc-default"] } },
  { name: "consumed", set: { contractsType: "consumed" }, want: { contractsType: "consumed" } },
  { name: "contractsType: other", set: { contractsType: "both" }, error: CONTRACTS_TYPE_MESSAGE },
  { name: "contractsType: missing", unset: ["contractsType"], error: CONTRACTS_TYPE_MESSAGE },
  ...nameCases("tenantName", { struct: "ExtContractsGroup", max: 64, pattern: "NAME" }),
  ...nameCases("contractsGroupName", { struct: "ExtContractsGroup", max: 64, pattern: "NAME" }),
]);

const path1 = "topology/pod-1/paths-101/pathep-[eth1/14]";
const path2 = "topology/pod-2/paths-102/pathep-[eth10/1]";
const gw = {
  name: "aciGw",
  enforcePolicies: "yes",
  includeCommonTenant: "no",
  physicalDomain: "phys.dom-1",
  pathBindings: path1,
  nodeBindings: "topology/pod-1/node-101",
};
const gwCases: Case[] = [
  { name: "full body", want: { pathBindings: path1 } },
  ...formatCases("name", ["aciGw"], ["aci", "ACIGW", ""]),
  { name: "name: 65 bytes", set: { name: "a".repeat(65) }, error: "name string too long" },
  ...formatCases("enforcePolicies", ["yes", "no"], ["", "YES", "true"]),
  { name: "enforcePolicies: 65 bytes", set: { enforcePolicies: "y".repeat(65) }, error: "enforcePolicies string too long" },
  ...formatCases("includeCommonTenant", ["yes", "no"], ["", "maybe"]),
  ...formatCases(
    "pathBindings",
    ["", path1, `${path1},${path2}`],
    ["topology/pod-1/paths-101/pathep-eth1/14", `${path1},`, `,${path1}`, "topology/pod-12345/paths-1/pathep-[eth1/1]"],
  ),
  { name: "pathBindings: 2049 bytes", set: { pathBindings: "x".repeat(2049) }, error: "pathBindings string too long" },
  ...formatCases(
    "nodeBindings",
    ["", "topology/pod-1/node-101", "topology/pod-1/node-101,topology/pod-1/node-102"],
    ["topology/pod-1/node-", "pod-1/node-101", "topology/pod-1/node-101;topology/pod-1/node-102"],
  ),
  { name: "nodeBindings: 2049 bytes", set: { nodeBindings: "x".repeat(2049) }, error: "nodeBindings string too long" },
  ...nameCases("physicalDomain", { struct: "AciGw", max: 128, pattern: "NAME" }),
];
runCases(kinds.aciGw, gw, gwCases);
