// netctl group create|inspect|rm|ls (endpoint groups) and netctl endpoint (ep) inspect

import { allFlag, fieldList, fieldStr, jsonFlag, omitEmpty, quietFlag, tenantFlag } from "./command.js";
import type { CommandContext, CommandSpec } from "./command.js";
import { filterTenant, printInspect, printList, verifyTenant } from "./listing.js";
import { TabWriter } from "./table.js";

/** POST is create-or-update on the server, so running the same command again updates the group. */
async function createGroup(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(2, "Network and group name required");
  const tenant = ctx.str("tenant");
  const [network = "", group = ""] = ctx.args;
  await ctx.client.post(
    "endpointGroups",
    `${tenant}:${group}`,
    omitEmpty({
      tenantName: tenant,
      networkName: network,
      groupName: group,
      netProfile: ctx.str("networkprofile"),
      ipPool: ctx.str("ip-pool"),
      policies: ctx.list("policy"),
      extContractsGrps: ctx.list("external-contract"),
      cfgdTag: ctx.str("epg-tag"),
    }),
  );
  ctx.print(`Creating EndpointGroup ${tenant}:${group}\n`);
}

async function inspectGroup(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "EndpointGroup name required");
  await printInspect(ctx, "endpointGroups", `${ctx.str("tenant")}:${ctx.args[0] ?? ""}`);
}

async function deleteGroup(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "EndpointGroup name required");
  await ctx.client.delete("endpointGroups", `${ctx.str("tenant")}:${ctx.args[0] ?? ""}`);
}

async function listGroups(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  const tenant = ctx.str("tenant");
  await verifyTenant(ctx, tenant);
  const groups = filterTenant(ctx, await ctx.client.list("endpointGroups"), tenant);
  printList(ctx, groups, "groupName", () => {
    const w = new TabWriter();
    w.write("Tenant\tGroup\tNetwork\tIP Pool\tCfgdTag\tPolicies\tNetwork profile\n");
    w.write("------\t-----\t-------\t-------\t-------\t--------\t---------------\n");
    for (const g of groups) {
      w.row(
        fieldStr(g, "tenantName"),
        fieldStr(g, "groupName"),
        fieldStr(g, "networkName"),
        fieldStr(g, "ipPool"),
        fieldStr(g, "cfgdTag"),
        fieldList(g, "policies").join(","),
        fieldStr(g, "netProfile"),
      );
    }
    return w.flush();
  });
}

async function inspectEndpoint(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Endpoint name required");
  await printInspect(ctx, "endpoints", ctx.args[0] ?? "");
}

export const groupCommand: CommandSpec = {
  name: "group",
  usage: "Endpoint Group manipulation tools",
  subcommands: [
    {
      name: "create",
      usage: "Create an endpoint group (run again to update it)",
      argsUsage: "<network> <group>",
      flags: [
        tenantFlag,
        { name: "policy", short: "p", kind: "list", value: "policy", usage: "Policy (repeatable)" },
        { name: "networkprofile", short: "n", kind: "string", value: "profile", usage: "network profile" },
        {
          name: "external-contract",
          short: "e",
          kind: "list",
          value: "group",
          usage: "External contract (repeatable)",
        },
        {
          name: "ip-pool",
          short: "r",
          kind: "string",
          value: "range",
          usage: "IP Address range, example 10.36.0.1-10.36.0.10",
        },
        { name: "epg-tag", aliases: ["tag"], kind: "string", value: "tag", usage: "Configured Group Tag" },
      ],
      action: createGroup,
    },
    {
      name: "inspect",
      usage: "Inspect a EndpointGroup",
      argsUsage: "<group>",
      flags: [tenantFlag],
      action: inspectGroup,
    },
    {
      name: "ls",
      aliases: ["list"],
      usage: "List endpoint groups",
      flags: [tenantFlag, allFlag, jsonFlag, quietFlag],
      action: listGroups,
    },
    {
      name: "rm",
      aliases: ["delete"],
      usage: "Delete an endpoint group",
      argsUsage: "<group>",
      flags: [tenantFlag],
      action: deleteGroup,
    },
  ],
};

export const endpointCommand: CommandSpec = {
  name: "endpoint",
  aliases: ["ep"],
  usage: "Endpoint Inspection",
  subcommands: [
    {
      name: "inspect",
      usage: "Inspect an Endpoint (by endpoint id, container id or container name)",
      argsUsage: "<epid>",
      action: inspectEndpoint,
    },
  ],
};
