// netctl app-profile create|update|rm|ls|group-ls (ACI application profiles)

import { allFlag, fieldList, fieldStr, jsonFlag, omitEmpty, quietFlag, tenantFlag } from "./command.js";
import type { CommandContext, CommandSpec, FlagSpec } from "./command.js";
import { filterTenant, printList, verifyTenant } from "./listing.js";
import { TabWriter } from "./table.js";

const groupFlag: FlagSpec = {
  name: "group",
  short: "g",
  kind: "string",
  value: "groups",
  usage: "Endpoint Group List (separated by commas)",
};

async function postAppProfile(ctx: CommandContext): Promise<string> {
  ctx.requireArgs(1, "Profile name required");
  const tenant = ctx.str("tenant");
  const prof = ctx.args[0] ?? "";
  const groups = ctx
    .str("group")
    .split(",")
    .map((g) => g.trim())
    .filter((g) => g !== "");
  await ctx.client.post(
    "appProfiles",
    `${tenant}:${prof}`,
    omitEmpty({ tenantName: tenant, appProfileName: prof, endpointGroups: groups }),
  );
  return `${tenant}:${prof}`;
}

async function createAppProfile(ctx: CommandContext): Promise<void> {
  const key = await postAppProfile(ctx);
  ctx.print(`Creating AppProfile ${key}\n`);
  ctx.noteAci();
}

async function updateAppProfile(ctx: CommandContext): Promise<void> {
  await postAppProfile(ctx);
  ctx.noteAci();
}

async function deleteAppProfile(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Profile name required");
  await ctx.client.delete("appProfiles", `${ctx.str("tenant")}:${ctx.args[0] ?? ""}`);
}

async function listAppProfiles(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  const tenant = ctx.str("tenant");
  await verifyTenant(ctx, tenant);
  const profiles = filterTenant(ctx, await ctx.client.list("appProfiles"), tenant);
  printList(ctx, profiles, "appProfileName", () => {
    const w = new TabWriter();
    w.write("Tenant\tAppProfile\tGroups\n");
    w.write("------\t----------\t------\n");
    for (const p of profiles) {
      w.row(fieldStr(p, "tenantName"), fieldStr(p, "appProfileName"), fieldList(p, "endpointGroups").join(","));
    }
    return w.flush();
  });
}

async function listAppProfileGroups(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Profile name required");
  const p = await ctx.client.get("appProfiles", `${ctx.str("tenant")}:${ctx.args[0] ?? ""}`);
  if (ctx.bool("json")) return ctx.printJson(p);
  ctx.print(fieldList(p, "endpointGroups").join(",") + "\n");
}

export const appProfileCommand: CommandSpec = {
  name: "app-profile",
  usage: "Application Profile manipulation tools (ACI: stored only, this system does not program an ACI fabric)",
  subcommands: [
    {
      name: "create",
      usage: "Create an application profile",
      argsUsage: "<app-profile>",
      flags: [tenantFlag, groupFlag],
      action: createAppProfile,
    },
    {
      name: "group-ls",
      aliases: ["group-list"],
      usage: "List groups in an app-profile",
      argsUsage: "<app-profile>",
      flags: [tenantFlag, allFlag, jsonFlag, quietFlag],
      action: listAppProfileGroups,
    },
    {
      name: "ls",
      aliases: ["list"],
      usage: "List Application Profiles",
      flags: [tenantFlag, allFlag, jsonFlag, quietFlag],
      action: listAppProfiles,
    },
    {
      name: "rm",
      aliases: ["delete"],
      usage: "Delete an application profile",
      argsUsage: "<app-profile>",
      flags: [tenantFlag],
      action: deleteAppProfile,
    },
    {
      name: "update",
      usage: "Update an application profile",
      argsUsage: "<app-profile>",
      flags: [tenantFlag, groupFlag],
      action: updateAppProfile,
    },
  ],
};
