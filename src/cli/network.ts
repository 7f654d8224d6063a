// netctl network (net) ls|create|rm|inspect

import { omitEmpty, fieldInt, fieldStr, allFlag, jsonFlag, quietFlag, tenantFlag } from "./command.js";
import type { CommandContext, CommandSpec } from "./command.js";
import { UsageError } from "./errors.js";
import { isGoIP } from "./ip.js";
import { filterTenant, printInspect, printList, verifyTenant } from "./listing.js";
import { TabWriter } from "./table.js";

async function listNetworks(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  const tenant = ctx.str("tenant");
  await verifyTenant(ctx, tenant);
  const nets = filterTenant(ctx, await ctx.client.list("networks"), tenant);
  printList(ctx, nets, "networkName", () => {
    const w = new TabWriter();
    w.write("Tenant\tNetwork\tNw Type\tEncap type\tPacket tag\tSubnet\tGateway\tIPv6Subnet\tIPv6Gateway\tCfgd Tag \n");
    w.write("------\t-------\t-------\t----------\t----------\t-------\t------\t----------\t-----------\t---------\n");
    for (const n of nets) {
      w.row(
        fieldStr(n, "tenantName"),
        fieldStr(n, "networkName"),
        fieldStr(n, "nwType"),
        fieldStr(n, "encap"),
        fieldInt(n, "pktTag"),
        fieldStr(n, "subnet"),
        fieldStr(n, "gateway"),
        fieldStr(n, "ipv6Subnet"),
        fieldStr(n, "ipv6Gateway"),
        fieldStr(n, "cfgdTag"),
      );
    }
    return w.flush();
  });
}

async function createNetwork(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Network name required");
  const subnet = ctx.str("subnet");
  const gateway = ctx.str("gateway");
  const gatewayv6 = ctx.str("gatewayv6");
  if (subnet === "") throw new UsageError("Subnet is required", { showHelp: true });
  if (gateway !== "" && !isGoIP(gateway)) {
    throw new UsageError("Invalid gateway - Enter in A.B.C.D format", { showHelp: true });
  }
  if (gatewayv6 !== "" && !isGoIP(gatewayv6)) throw new UsageError("Invalid IPv6 gateway", { showHelp: true });

  const tenant = ctx.str("tenant");
  const network = ctx.args[0] ?? "";
  await ctx.client.post(
    "networks",
    `${tenant}:${network}`,
    omitEmpty({
      tenantName: tenant,
      networkName: network,
      encap: ctx.str("encap"),
      subnet,
      gateway,
      ipv6Subnet: ctx.str("subnetv6"),
      ipv6Gateway: gatewayv6,
      pktTag: ctx.int("pkt-tag"),
      nwType: ctx.str("nw-type"),
      cfgdTag: ctx.str("nw-tag"),
      attachMode: ctx.str("attach-mode"),
      uplinkIf: ctx.str("uplink-if"),
      device: ctx.str("device"),
      ipam: ctx.str("ipam"),
    }),
  );
  ctx.print(`Creating network ${tenant}:${network}\n`);
}

async function deleteNetwork(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Network name required");
  const tenant = ctx.str("tenant");
  const network = ctx.args[0] ?? "";
  ctx.print(`Deleting network ${tenant}:${network}\n`);
  await ctx.client.delete("networks", `${tenant}:${network}`);
}

async function inspectNetwork(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Network name required");
  await printInspect(ctx, "networks", `${ctx.str("tenant")}:${ctx.args[0] ?? ""}`);
}

export const networkCommand: CommandSpec = {
  name: "network",
  aliases: ["net"],
  usage: "Network manipulation tools",
  subcommands: [
    {
      name: "create",
      usage: "Create a network",
      argsUsage: "<network>",
      flags: [
        tenantFlag,
        {
          name: "nw-type",
          short: "n",
          kind: "string",
          default: "data",
          value: "type",
          usage: "Network Type (infra or data)",
        },
        {
          name: "encap",
          short: "e",
          kind: "string",
          default: "vxlan",
          value: "encap",
          usage: "Encap type (vlan or vxlan)",
        },
        { name: "pkt-tag", short: "p", kind: "int", value: "tag", usage: "Packet tag (Vlan ID/VNI)" },
        { name: "subnet", short: "s", kind: "string", value: "cidr", usage: "Subnet CIDR - REQUIRED" },
        { name: "gateway", short: "g", kind: "string", value: "ip", usage: "Gateway" },
        { name: "subnetv6", aliases: ["s6"], kind: "string", value: "cidr", usage: "IPv6 Subnet CIDR" },
        { name: "gatewayv6", aliases: ["g6"], kind: "string", value: "ip", usage: "IPv6 Gateway" },
        { name: "nw-tag", aliases: ["tag"], kind: "string", value: "tag", usage: "Configured Network Tag" },
        {
          name: "attach-mode",
          kind: "string",
          value: "mode",
          usage: "How containers attach: bridge (default), macvlan, ipvlan or host-device (these need -e vlan)",
        },
        { name: "uplink-if", kind: "string", value: "ifname", usage: "macvlan/ipvlan: host interface (wins over the agents' --uplink-if)" },
        { name: "device", kind: "string", value: "ifname", usage: "host-device: host interface moved into the container" },
        {
          name: "ipam",
          kind: "string",
          value: "source",
          usage: "Where containers' IPv4 addresses come from: netmaster (default) or dhcp (the DHCP server on the network's vlan segment)",
        },
      ],
      action: createNetwork,
    },
    {
      name: "inspect",
      usage: "Inspect a Network",
      argsUsage: "<network>",
      flags: [tenantFlag],
      action: inspectNetwork,
    },
    {
      name: "ls",
      aliases: ["list"],
      usage: "List networks",
      flags: [tenantFlag, allFlag, jsonFlag, quietFlag],
      action: listNetworks,
    },
    {
      name: "rm",
      aliases: ["delete"],
      usage: "Delete a network",
      argsUsage: "<network>",
      flags: [tenantFlag],
      action: deleteNetwork,
    },
  ],
};
