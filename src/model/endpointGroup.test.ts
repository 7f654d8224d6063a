import { kinds } from "./kinds.js";
import { type Case, formatCases, nameCases, runCases } from "./testing/cases.js";

const base = { tenantName: "default", groupName: "web", networkName: "net1" };
const typeError = (field: string, goType: string, kind = "number") =>
  `json: cannot unmarshal ${kind} into Go struct field EndpointGroup.${field} of type ${goType}`;

const cases: Case[] = [
  {
    name: "minimal body: defaults",
    want: { policies: [], extContractsGrps: [], ipPool: "", netProfile: "", cfgdTag: "" },
  },
  ...nameCases("tenantName", { struct: "EndpointGroup", max: 64, pattern: "NAME" }),
  ...nameCases("groupName", { struct: "EndpointGroup", max: 64, pattern: "NAME" }),
  ...nameCases("networkName", { struct: "EndpointGroup", max: 64, pattern: "NAME" }),
  ...nameCases("cfgdTag", { struct: "EndpointGroup", max: 128, pattern: "EMPTY_OR_NAME" }),
  ...nameCases("netProfile", { struct: "EndpointGroup", max: 64, pattern: "none" }),
  ...formatCases(
    "ipPool",
    ["", "10.36.0.1", "10.36.0.1-10.36.0.10"],
    ["10.36.0.1-", "10.36.0.0/24", "10.36.0.1-10", "10.36.0.1 - 10.36.0.10", "10.36.0"],
  ),
  { name: "policies: list kept", set: { policies: ["p1", "p2"] }, want: { policies: ["p1", "p2"] } },
  { name: "policies: not a list", set: { policies: "p1" }, error: typeError("policies", "[]string", "string") },
  { name: "policies: element not a string", set: { policies: ["p1", 2] }, error: typeError("policies", "string") },
  { name: "policies: null element → \"\"", set: { policies: ["p1", null] }, want: { policies: ["p1", ""] } },
  { name: "extContractsGrps: list kept", set: { extContractsGrps: ["c1"] }, want: { extContractsGrps: ["c1"] } },
  {
    name: "extContractsGrps: not a list",
    set: { extContractsGrps: { a: 1 } },
    error: typeError("extContractsGrps", "[]string", "object"),
  },
];

runCases(kinds.endpointGroup, base, cases);
