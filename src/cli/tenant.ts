// netctl tenant ls|create|rm|inspect

import { fieldStr, jsonFlag, quietFlag, type CommandContext, type CommandSpec } from "./command.js";
import { printInspect, printList } from "./listing.js";
import { TabWriter } from "./table.js";

async function listTenants(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  const tenants = await ctx.client.list("tenants");
  printList(ctx, tenants, "tenantName", () => {
    const w = new TabWriter({ minwidth: 0, padding: 2 });
    w.write("Name\t\n");
    w.write("------\t\n");
    for (const t of tenants) w.write(`${fieldStr(t, "tenantName")}\t\n`);
    return w.flush();
  });
}

async function createTenant(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Tenant name required");
  const [tenant = ""] = ctx.args;
  await ctx.client.post("tenants", tenant, { tenantName: tenant });
  ctx.print(`Creating tenant: ${tenant}\n`);
}

async function deleteTenant(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Tenant name required");
  const [tenant = ""] = ctx.args;
  ctx.print(`Deleting tenant ${tenant}\n`);
  await ctx.client.delete("tenants", tenant);
}

async function inspectTenant(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Tenant name required");
  await printInspect(ctx, "tenants", ctx.args[0] ?? "");
}

export const tenantCommand: CommandSpec = {
  name: "tenant",
  usage: "Tenant manipulation tools",
  subcommands: [
    { name: "create", usage: "Create a tenant", argsUsage: "<tenant>", action: createTenant },
    { name: "inspect", usage: "Inspect a tenant", argsUsage: "<tenant>", action: inspectTenant },
    { name: "ls", aliases: ["list"], usage: "List tenants", flags: [quietFlag, jsonFlag], action: listTenants },
    { name: "rm", aliases: ["delete"], usage: "Delete a tenant", argsUsage: "<tenant>", action: deleteTenant },
  ],
};
