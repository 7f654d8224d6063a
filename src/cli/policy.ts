// netctl policy create|rm|ls|inspect|rule-add|rule-rm|rule-ls

import { allFlag, fieldInt, fieldStr, jsonFlag, omitEmpty, quietFlag, tenantFlag } from "./command.js";
import type { CommandContext, CommandSpec } from "./command.js";
import type { ApiObject } from "./client.js";
import { UsageError } from "./errors.js";
import { filterTenant, printInspect, printList, verifyTenant } from "./listing.js";
import { TabWriter } from "./table.js";

async function createPolicy(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Policy name required");
  const tenant = ctx.str("tenant");
  const policy = ctx.args[0] ?? "";
  await ctx.client.post("policys", `${tenant}:${policy}`, { policyName: policy, tenantName: tenant });
  ctx.print(`Creating policy ${tenant}:${policy}\n`);
}

async function deletePolicy(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Policy name required");
  const tenant = ctx.str("tenant");
  const policy = ctx.args[0] ?? "";
  ctx.print(`Deleting policy ${tenant}:${policy}\n`);
  await ctx.client.delete("policys", `${tenant}:${policy}`);
}

async function inspectPolicy(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Policy name required");
  await printInspect(ctx, "policys", `${ctx.str("tenant")}:${ctx.args[0] ?? ""}`);
}

async function listPolicies(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  const tenant = ctx.str("tenant");
  await verifyTenant(ctx, tenant);
  const policies = filterTenant(ctx, await ctx.client.list("policys"), tenant);
  printList(ctx, policies, "policyName", () => {
    const w = new TabWriter();
    w.write("Tenant\tPolicy\n");
    w.write("------\t------\n");
    for (const p of policies) w.row(fieldStr(p, "tenantName"), fieldStr(p, "policyName"));
    return w.flush();
  });
}

/** Contiv's client-side direction checks; the messages are the original's. */
export function checkRuleDirection(dir: string, f: (name: string) => string): void {
  const fail = (msg: string): never => {
    throw new UsageError(msg);
  };
  if (dir === "in") {
    if (f("to-group") !== "") fail("Cant specify to-group for incoming rule");
    if (f("to-network") !== "") fail("Cant specify to-network for incoming rule");
    if (f("from-group") !== "" && f("from-network") !== "") {
      fail("Can't specify both from-group argument and -from-network");
    }
  } else if (dir === "out") {
    if (f("from-group") !== "") fail("Cant specify from-group for outgoing rule");
    if (f("from-network") !== "") fail("Cant specify from-network for outgoing rule");
    if (f("from-ip-address") !== "") fail("Cant specify from-ip-address for outgoing rule");
    if (f("to-group") !== "" && f("to-network") !== "") fail("Can't specify both -to-group and -to-network");
  } else {
    fail("Unknown direction");
  }
}

async function addRule(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(2, "Policy name and Rule ID required");
  const dir = ctx.str("direction");
  checkRuleDirection(dir, (name) => ctx.str(name));
  const tenant = ctx.str("tenant");
  const [policy = "", ruleId = ""] = ctx.args;
  await ctx.client.post(
    "rules",
    `${tenant}:${policy}:${ruleId}`,
    omitEmpty({
      tenantName: tenant,
      policyName: policy,
      ruleId,
      priority: ctx.int("priority"),
      direction: dir,
      fromEndpointGroup: ctx.str("from-group"),
      toEndpointGroup: ctx.str("to-group"),
      fromNetwork: ctx.str("from-network"),
      toNetwork: ctx.str("to-network"),
      fromIpAddress: ctx.str("from-ip-address"),
      toIpAddress: ctx.str("to-ip-address"),
      protocol: ctx.str("protocol"),
      port: ctx.int("port"),
      action: ctx.str("action"),
    }),
  );
}

async function deleteRule(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(2, "Policy name and Rule ID required");
  const [policy = "", ruleId = ""] = ctx.args;
  await ctx.client.delete("rules", `${ctx.str("tenant")}:${policy}:${ruleId}`);
}

/** Rules by ascending priority; rules of equal priority keep the server's order (a stable sort). */
export function sortRules(rules: ApiObject[]): ApiObject[] {
  const prio = (r: ApiObject): number => {
    const p = r["priority"];
    return typeof p === "number" ? p : 0;
  };
  return rules
    .map((r, i) => ({ r, i }))
    .sort((a, b) => prio(a.r) - prio(b.r) || a.i - b.i)
    .map((x) => x.r);
}

async function listRules(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Policy name required");
  const tenant = ctx.str("tenant");
  const policy = ctx.args[0] ?? "";
  await verifyTenant(ctx, tenant);
  await ctx.client.get("policys", `${tenant}:${policy}`);
  const rules = sortRules(
    (await ctx.client.list("rules")).filter(
      (r) => fieldStr(r, "tenantName") === tenant && fieldStr(r, "policyName") === policy,
    ),
  );
  printList(ctx, rules, "ruleId", () => {
    // One writer, as in Contiv: the one-cell "… Rules:" lines split it into two aligned tables.
    const w = new TabWriter();
    w.write("Incoming Rules:\n");
    w.write("Rule\tPriority\tFrom EndpointGroup\tFrom Network\tFrom IpAddress\tTo IpAddress\tProtocol\tPort\tAction\n");
    w.write("----\t--------\t------------------\t------------\t---------\t------------\t--------\t----\t------\n");
    for (const r of rules) {
      if (fieldStr(r, "direction") !== "in") continue;
      w.row(
        fieldStr(r, "ruleId"),
        fieldInt(r, "priority"),
        fieldStr(r, "fromEndpointGroup"),
        fieldStr(r, "fromNetwork"),
        fieldStr(r, "fromIpAddress"),
        fieldStr(r, "toIpAddress"),
        fieldStr(r, "protocol"),
        fieldInt(r, "port"),
        fieldStr(r, "action"),
      );
    }
    w.write("Outgoing Rules:\n");
    w.write("Rule\tPriority\tTo EndpointGroup\tTo Network\tTo IpAddress\tProtocol\tPort\tAction\n");
    w.write("----\t--------\t----------------\t----------\t---------\t--------\t----\t------\n");
    for (const r of rules) {
      if (fieldStr(r, "direction") !== "out") continue;
      w.row(
        fieldStr(r, "ruleId"),
        fieldInt(r, "priority"),
        fieldStr(r, "toEndpointGroup"),
        fieldStr(r, "toNetwork"),
        fieldStr(r, "toIpAddress"),
        fieldStr(r, "protocol"),
        fieldInt(r, "port"),
        fieldStr(r, "action"),
      );
    }
    return w.flush();
  });
}

export const policyCommand: CommandSpec = {
  name: "policy",
  usage: "Policy manipulation tools",
  subcommands: [
    { name: "create", usage: "Create a new policy", argsUsage: "<policy>", flags: [tenantFlag], action: createPolicy },
    { name: "inspect", usage: "Inspect a policy", argsUsage: "<policy>", flags: [tenantFlag], action: inspectPolicy },
    {
      name: "ls",
      aliases: ["list"],
      usage: "List policies",
      flags: [tenantFlag, allFlag, jsonFlag, quietFlag],
      action: listPolicies,
    },
    {
      name: "rm",
      aliases: ["delete"],
      usage: "Delete a policy",
      argsUsage: "<policy>",
      flags: [tenantFlag],
      action: deletePolicy,
    },
    {
      name: "rule-add",
      usage: "Add a new rule to the policy",
      argsUsage: "<policy> <rule-id>",
      flags: [
        tenantFlag,
        { name: "priority", short: "p", kind: "int", default: 1, value: "n", usage: "Priority Indicator" },
        {
          name: "direction",
          short: "d",
          kind: "string",
          default: "in",
          value: "dir",
          usage: "Direction of traffic (in/out)",
        },
        {
          name: "from-group",
          short: "g",
          kind: "string",
          value: "group",
          usage: "From Endpoint Group Name (Valid in incoming direction only)",
        },
        {
          name: "to-group",
          short: "e",
          kind: "string",
          value: "group",
          usage: "To Endpoint Group Name (Valid in outgoing direction only)",
        },
        {
          name: "from-network",
          short: "n",
          kind: "string",
          value: "network",
          usage: "From Network name (Valid in incoming direction only)",
        },
        {
          name: "to-network",
          short: "o",
          kind: "string",
          value: "network",
          usage: "To Network name (Valid in outgoing direction only)",
        },
        {
          name: "from-ip-address",
          short: "i",
          kind: "string",
          value: "ip",
          usage: "From IP address/CIDR (Valid in incoming direction only)",
        },
        {
          name: "to-ip-address",
          short: "s",
          kind: "string",
          value: "ip",
          usage: "To IP address/CIDR (Valid in outgoing direction only)",
        },
        { name: "protocol", short: "l", kind: "string", value: "proto", usage: "Protocol (e.g., tcp, udp, icmp)" },
        { name: "port", short: "P", kind: "int", value: "port", usage: "Port" },
        {
          name: "action",
          short: "j",
          kind: "string",
          default: "allow",
          value: "action",
          usage: "Action to take (allow or deny)",
        },
      ],
      action: addRule,
    },
    {
      name: "rule-ls",
      usage: "List rules for a given tenant,policy",
      argsUsage: "<policy>",
      flags: [tenantFlag, jsonFlag, quietFlag],
      action: listRules,
    },
    {
      name: "rule-rm",
      usage: "Delete a rule from the policy",
      argsUsage: "<policy> <rule-id>",
      flags: [tenantFlag],
      action: deleteRule,
    },
  ],
};
