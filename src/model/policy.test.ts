import { kinds } from "./kinds.js";
import { type Case, formatCases, intCases, nameCases, runCases } from "./testing/cases.js";

runCases(kinds.policy, { tenantName: "default", policyName: "prod" }, [
  { name: "minimal body", want: { tenantName: "default", policyName: "prod" } },
  ...nameCases("tenantName", { struct: "Policy", max: 64, pattern: "NAME" }),
  ...nameCases("policyName", { struct: "Policy", max: 64, pattern: "NAME" }),
]);

const rule = { tenantName: "default", policyName: "prod", ruleId: "1", direction: "in", action: "allow" };

const ruleCases: Case[] = [
  {
    name: "minimal body: defaults",
    want: { priority: 1, port: 0, protocol: "", fromIpAddress: "", toEndpointGroup: "" },
  },
  ...nameCases("tenantName", { struct: "Rule", max: 64, pattern: "NAME" }),
  ...nameCases("policyName", { struct: "Rule", max: 64, pattern: "NAME" }),
  ...nameCases("ruleId", { struct: "Rule", max: 64, pattern: "NAME" }),
  ...nameCases("fromEndpointGroup", { struct: "Rule", max: 64, pattern: "NAME_OPT" }),
  ...nameCases("toEndpointGroup", { struct: "Rule", max: 64, pattern: "NAME_OPT" }),
  ...nameCases("fromNetwork", { struct: "Rule", max: 64, pattern: "NAME_OPT" }),
  ...nameCases("toNetwork", { struct: "Rule", max: 64, pattern: "NAME_OPT" }),
  ...formatCases("direction", ["in", "out"], ["", "IN", "both"]),
  { name: "direction: required", unset: ["direction"], error: "direction string invalid format" },
  ...formatCases("action", ["allow", "deny"], ["", "permit", "Allow"]),
  { name: "action: required", unset: ["action"], error: "action string invalid format" },
  ...intCases("Rule", "port", 0, 65535),
  ...intCases("Rule", "priority", 1, 100),
  { name: "priority: 0 → 1", set: { priority: 0 }, want: { priority: 1 } },
  { name: "priority: missing → 1", unset: ["priority"], want: { priority: 1 } },
  ...formatCases(
    "protocol",
    ["", "tcp", "udp", "icmp", "6", "17", "255", "999"],
    ["TCP", "igmp", "1234", "-1", "tcp "],
  ),
  ...formatCases(
    "fromIpAddress",
    ["", "10.1.1.1", "10.1.1.0/24", "10.1.1.1-20", "10.1.1.1-20/24"],
    ["10.1.1.1-10.1.1.20", "10.1.1.0/32", "10.1.1.0/0", "abc", "10.1.1"],
  ),
  ...formatCases("toIpAddress", ["", "192.168.1.0/16"], ["192.168.1.0/33", "192.168.1.300"]),
  {
    name: "action is checked before direction (JSON-name order)",
    set: { action: "x", direction: "y" },
    error: "action string invalid format",
    paths: ["action", "direction"],
  },
];

runCases(kinds.rule, rule, ruleCases);
