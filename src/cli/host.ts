// netctl host ls|rm — the hosts netmaster knows, and removing one gone for good (ours: Contiv had neither).

import { fieldInt, fieldList, fieldStr, jsonFlag, quietFlag, type CommandContext, type CommandSpec } from "./command.js";
import { printList } from "./listing.js";
import { TabWriter } from "./table.js";

async function listHosts(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  const hosts = await ctx.client.hosts();
  printList(ctx, hosts, "name", () => {
    const w = new TabWriter();
    w.write("Name\tVTEP\tEndpoints\tLast report (s ago)\n");
    w.write("----\t----\t---------\t-------------------\n");
    for (const h of hosts) {
      const ago = h["reportedSecondsAgo"];
      w.row(fieldStr(h, "name"), fieldStr(h, "vtepIP") || "-", fieldInt(h, "endpoints"), typeof ago === "number" ? ago : "-");
    }
    return w.flush();
  });
}

async function removeHost(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Host name required");
  const name = ctx.args[0] ?? "";
  ctx.print(`Deleting host ${name}\n`);
  const removal = await ctx.client.removeHost(name, { force: ctx.bool("force") });
  const endpoints = fieldList(removal, "endpoints");
  if (endpoints.length > 0) ctx.print(`Released endpoints: ${endpoints.join(", ")}\n`);
  const blocks = fieldList(removal, "blocks");
  if (blocks.length > 0) ctx.print(`Released address blocks: ${blocks.join(", ")}\n`);
}

export const hostCommand: CommandSpec = {
  name: "host",
  usage: "Hosts known to netmaster",
  subcommands: [
    { name: "ls", aliases: ["list"], usage: "List hosts", flags: [jsonFlag, quietFlag], action: listHosts },
    {
      name: "rm",
      aliases: ["delete"],
      usage: "Remove a host gone for good, with its endpoints and Docker pools",
      argsUsage: "<hostname>",
      flags: [{ name: "force", short: "f", kind: "bool", usage: "Remove it even while its agent still reports" }],
      action: removeHost,
    },
  ],
};
