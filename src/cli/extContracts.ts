// netctl external-contracts ls|create|rm (ACI external contract groups)

import { allFlag, fieldList, fieldStr, jsonFlag, quietFlag, tenantFlag } from "./command.js";
import type { CommandContext, CommandSpec } from "./command.js";
import { UsageError } from "./errors.js";
import { filterTenant, printList, verifyTenant } from "./listing.js";
import { goValue, TabWriter } from "./table.js";

async function listExternalContracts(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  const tenant = ctx.str("tenant");
  await verifyTenant(ctx, tenant);
  const groups = filterTenant(ctx, await ctx.client.list("extContractsGroups"), tenant);
  printList(ctx, groups, "contractsGroupName", () => {
    const w = new TabWriter();
    w.write("Tenant\tName\t\tType\t\tContracts\n");
    w.write("------\t------\t\t------\t\t-------\n");
    for (const g of groups) {
      // Contiv's rows lacked the second empty column, which put Contracts two columns off its header.
      const f = (k: string): string => fieldStr(g, k);
      w.write(`${f("tenantName")}\t${f("contractsGroupName")}\t\t${f("contractsType")}\t\t${goValue(fieldList(g, "contracts"))}\n`);
    }
    return w.flush();
  });
}

async function deleteExternalContracts(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Contracts group name required");
  const tenant = ctx.str("tenant");
  const name = ctx.args[0] ?? "";
  ctx.print(`Deleting external contracts group ${name} in tenant ${tenant}\n`);
  await ctx.client.delete("extContractsGroups", `${tenant}:${name}`);
}

async function createExternalContracts(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Contracts group name required");
  const provided = ctx.bool("provided");
  const consumed = ctx.bool("consumed");
  if (provided && consumed) throw new UsageError("Cannot use both provided and consumed");
  if (!provided && !consumed) throw new UsageError("Either provided or consumed must be specified");
  const contracts = ctx.list("contract");
  if (contracts.length === 0) throw new UsageError("Contracts not provided");
  const tenant = ctx.str("tenant");
  const name = ctx.args[0] ?? "";
  await ctx.client.post("extContractsGroups", `${tenant}:${name}`, {
    tenantName: tenant,
    contractsGroupName: name,
    contractsType: provided ? "provided" : "consumed",
    contracts,
  });
  ctx.print(`Creating ExternalContracts ${tenant}:${name}\n`);
  ctx.noteAci();
}

export const extContractsCommand: CommandSpec = {
  name: "external-contracts",
  usage: "External contracts (ACI: stored only, this system does not program an ACI fabric)",
  subcommands: [
    {
      name: "create",
      usage: "Create external contracts",
      argsUsage: "<contracts-group>",
      flags: [
        tenantFlag,
        { name: "consumed", short: "c", kind: "bool", usage: "External contracts type - consumed" },
        { name: "provided", short: "p", kind: "bool", usage: "External contracts type - provided" },
        { name: "contract", short: "a", kind: "list", value: "dn", usage: "Contract (repeatable)" },
      ],
      action: createExternalContracts,
    },
    {
      name: "ls",
      aliases: ["list"],
      usage: "List external contracts",
      flags: [quietFlag, allFlag, jsonFlag, tenantFlag],
      action: listExternalContracts,
    },
    {
      name: "rm",
      aliases: ["delete"],
      usage: "Delete external contracts",
      argsUsage: "<contracts-group>",
      flags: [tenantFlag],
      action: deleteExternalContracts,
    },
  ],
};
