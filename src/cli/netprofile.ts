// netctl netprofile create|rm|ls|inspect

import { allFlag, fieldInt, fieldStr, jsonFlag, omitEmpty, quietFlag, tenantFlag } from "./command.js";
import type { CommandContext, CommandSpec } from "./command.js";
import { filterTenant, printInspect, printList, verifyTenant } from "./listing.js";
import { TabWriter } from "./table.js";

/**
 * The bandwidth column of `netprofile ls`: the first run of digits followed by Gbps, Mbps or Kbps,
 * chosen by the first of g/G, m/M, k/K found anywhere in the value ("10 gb" → "10Gbps",
 * "100 mbps" → "100Mbps"). Contiv carried the unit of the previous row over when a value had none;
 * here such a value gets no unit.
 */
export function normalizeBandwidth(bw: string): string {
  if (bw === "") return "";
  const digits = /[0-9]+/.exec(bw)?.[0];
  if (digits === undefined) return bw;
  const unit = /[gG]/.test(bw) ? "Gbps" : /[mM]/.test(bw) ? "Mbps" : /[kK]/.test(bw) ? "Kbps" : "";
  return digits + unit;
}

async function createNetProfile(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Net profile name required");
  const tenant = ctx.str("tenant");
  const name = ctx.args[0] ?? "";
  await ctx.client.post(
    "netprofiles",
    `${tenant}:${name}`,
    omitEmpty({
      profileName: name,
      tenantName: tenant,
      bandwidth: ctx.str("bandwidth"),
      DSCP: ctx.int("dscp"),
      burst: ctx.int("burst"),
    }),
  );
  ctx.print(`Creating netprofile ${tenant}:${name}\n`);
}

async function deleteNetProfile(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Net profile name required");
  await ctx.client.delete("netprofiles", `${ctx.str("tenant")}:${ctx.args[0] ?? ""}`);
}

async function inspectNetProfile(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Net profile name required");
  await printInspect(ctx, "netprofiles", `${ctx.str("tenant")}:${ctx.args[0] ?? ""}`);
}

async function listNetProfiles(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  const tenant = ctx.str("tenant");
  await verifyTenant(ctx, tenant);
  const profiles = filterTenant(ctx, await ctx.client.list("netprofiles"), tenant);
  printList(ctx, profiles, "profileName", () => {
    const w = new TabWriter();
    w.write("Name\tTenant\tBandwidth\tDSCP\tburst size\n");
    w.write("------\t------\t---------\t--------\t----------\n");
    for (const p of profiles) {
      w.row(
        fieldStr(p, "profileName"),
        fieldStr(p, "tenantName"),
        normalizeBandwidth(fieldStr(p, "bandwidth")),
        fieldInt(p, "DSCP"),
        fieldInt(p, "burst"),
      );
    }
    return w.flush();
  });
}

export const netprofileCommand: CommandSpec = {
  name: "netprofile",
  usage: "Network profile manipulation tools",
  subcommands: [
    {
      name: "create",
      usage: "Create a network profile (run again to update it)",
      argsUsage: "<netprofile>",
      flags: [
        tenantFlag,
        {
          name: "bandwidth",
          short: "b",
          kind: "string",
          value: "rate",
          usage: "Bandwidth (e.g., 10 kbps, 100 mbps, 1gbps)",
        },
        { name: "dscp", short: "d", kind: "int", value: "n", usage: "DSCP" },
        { name: "burst", short: "s", kind: "int", value: "kb", usage: "burst size(Must be in kilobytes)" },
      ],
      action: createNetProfile,
    },
    {
      name: "inspect",
      usage: "inspect network profile",
      argsUsage: "<netprofile>",
      flags: [tenantFlag],
      action: inspectNetProfile,
    },
    {
      name: "ls",
      aliases: ["list"],
      usage: "List network profile",
      flags: [tenantFlag, allFlag, jsonFlag, quietFlag],
      action: listNetProfiles,
    },
    {
      name: "rm",
      aliases: ["delete"],
      usage: "Delete a network profile",
      argsUsage: "<netprofile>",
      flags: [tenantFlag],
      action: deleteNetProfile,
    },
  ],
};
