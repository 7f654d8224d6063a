// netctl bgp ls|create|rm|inspect — per-host BGP peering (collection `Bgps`, key = host name)

import { fieldStr, jsonFlag, omitEmpty, quietFlag } from "./command.js";
import type { CommandContext, CommandSpec } from "./command.js";
import { UsageError } from "./errors.js";
import { isGoCIDR, isGoIP } from "./ip.js";
import { printInspect, printList } from "./listing.js";
import { TabWriter } from "./table.js";

async function addBgp(ctx: CommandContext): Promise<void> {
  if (ctx.args.length !== 1) throw new UsageError("Host name required", { showHelp: true });
  const hostname = ctx.args[0] ?? "";
  const routerip = ctx.str("router-ip");
  const as = ctx.str("as");
  const neighborAs = ctx.str("neighbor-as");
  const neighbor = ctx.str("neighbor");
  // Same order of checks as Contiv: an empty router-ip or neighbor fails the format checks first.
  if (!isGoCIDR(routerip)) throw new UsageError("Wrong CIDR format. Enter in x.x.x.x/len format", { showHelp: true });
  if (!isGoIP(neighbor)) throw new UsageError("Wrong IP format. Enter in x.x.x.x format", { showHelp: true });
  if (as === "" || neighborAs === "") throw new UsageError("Missing attributes", { showHelp: true });
  await ctx.client.post(
    "Bgps",
    hostname,
    omitEmpty({ hostname, routerip, as, "neighbor-as": neighborAs, neighbor }),
  );
}

async function deleteBgp(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Host name required");
  const hostname = ctx.args[0] ?? "";
  ctx.print(`Deleting Bgp router config: ${hostname}\n`);
  await ctx.client.delete("Bgps", hostname);
}

async function inspectBgp(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Host name required");
  await printInspect(ctx, "Bgps", ctx.args[0] ?? "");
}

/** Contiv tested a misspelt "quite" flag here, so -q never worked; it does now. */
async function listBgp(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  const list = await ctx.client.list("Bgps");
  printList(ctx, list, "hostname", () => {
    const w = new TabWriter();
    w.write("HostName\tRouterIP\tAS\tNeighbor\tNeighborAS\n");
    w.write("---------\t--------\t-------\t--------\t-------\n");
    for (const b of list) {
      const f = (k: string): string => fieldStr(b, k);
      w.row(f("hostname"), f("routerip"), f("as"), f("neighbor"), f("neighbor-as"));
    }
    return w.flush();
  });
}

export const bgpCommand: CommandSpec = {
  name: "bgp",
  usage: "router capability configuration",
  subcommands: [
    {
      name: "create",
      usage: "Add BGP configuration.",
      argsUsage: "<hostname>",
      flags: [
        { name: "router-ip", kind: "string", value: "cidr", usage: "BGP my-router ip (x.x.x.x/len)" },
        { name: "as", kind: "string", value: "as", usage: "Self AS id" },
        { name: "neighbor-as", kind: "string", value: "as", usage: "BGP neighbor AS id" },
        { name: "neighbor", kind: "string", value: "ip", usage: "BGP neighbor to be added" },
      ],
      action: addBgp,
    },
    { name: "inspect", usage: "Inspect Bgp", argsUsage: "<hostname>", action: inspectBgp },
    { name: "ls", aliases: ["list"], usage: "List BGP configuration", flags: [jsonFlag, quietFlag], action: listBgp },
    { name: "rm", aliases: ["delete"], usage: "Delete BGP configuration", argsUsage: "<hostname>", action: deleteBgp },
  ],
};
