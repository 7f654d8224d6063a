// netctl global info|inspect|set and netctl aci-gw info|inspect|set — the two singleton objects.

import type { ApiObject } from "./client.js";
import { allFlag, fieldStr, jsonFlag, omitEmpty, tenantFlag } from "./command.js";
import type { CommandContext, CommandSpec } from "./command.js";
import { ServerError } from "./errors.js";
import { printInspect } from "./listing.js";

const GLOBAL_FIELDS = ["key", "arpMode", "fwdMode", "name", "networkInfraType", "pvtSubnet", "sdnController", "vlans", "vxlans"];
const ACIGW_FIELDS = [
  "key",
  "enforcePolicies",
  "includeCommonTenant",
  "name",
  "nodeBindings",
  "pathBindings",
  "physicalDomain",
];

/** The configuration fields of `o` only, as the Go client's typed struct kept them. */
function pick(o: ApiObject, fields: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) if (o[f] !== undefined) out[f] = o[f];
  return out;
}

async function showGlobal(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  const list = await ctx.client.list("globals");
  if (ctx.bool("json")) return ctx.printJson(list);
  for (const g of list) {
    ctx.print(
      `Fabric mode: ${fieldStr(g, "networkInfraType")}\n` +
        `Forward mode: ${fieldStr(g, "fwdMode")}\n` +
        `ARP mode: ${fieldStr(g, "arpMode")}\n` +
        `Vlan Range: ${fieldStr(g, "vlans")}\n` +
        `Vxlan range: ${fieldStr(g, "vxlans")}\n` +
        `Private subnet: ${fieldStr(g, "pvtSubnet")}\n` +
        // Not Contiv's: shown only when set, so Contiv's lines stay as they were.
        (fieldStr(g, "sdnController") === "" ? "" : `SDN controller: ${fieldStr(g, "sdnController")}\n`),
    );
  }
}

async function inspectGlobal(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  await printInspect(ctx, "globals", "global");
}

/** Read the global object, overwrite only the fields given on the command line, write it back. */
async function setGlobal(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  const global = pick(await ctx.client.get("globals", "global"), GLOBAL_FIELDS);
  const changes: Array<[flag: string, field: string]> = [
    ["fabric-mode", "networkInfraType"],
    ["vlan-range", "vlans"],
    ["vxlan-range", "vxlans"],
    ["fwd-mode", "fwdMode"],
    ["arp-mode", "arpMode"],
    ["private-subnet", "pvtSubnet"],
  ];
  for (const [flag, field] of changes) {
    const v = ctx.str(flag);
    if (v !== "") global[field] = v;
  }
  // Given as "", it clears the controller; not given, it stays.
  if (ctx.has("sdn-controller")) global["sdnController"] = ctx.str("sdn-controller");
  await ctx.client.post("globals", "global", omitEmpty(global));
}

async function showAciGw(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  const list = await ctx.client.list("aciGws");
  if (ctx.bool("json")) return ctx.printJson(list);
  for (const gw of list) {
    ctx.print(
      `Path bindings: ${fieldStr(gw, "pathBindings")}\n` +
        `Node bindings: ${fieldStr(gw, "nodeBindings")}\n` +
        `Physical domain: ${fieldStr(gw, "physicalDomain")}\n` +
        `Enforce policies: ${fieldStr(gw, "enforcePolicies")}\n` +
        `Include Common-Tenant: ${fieldStr(gw, "includeCommonTenant")}\n`,
    );
  }
}

async function inspectAciGw(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  await printInspect(ctx, "aciGws", "aciGw");
}

/** Create the aciGw object if missing; every field is set from the flags (with their defaults). */
async function setAciGw(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  let gw: Record<string, unknown>;
  try {
    gw = pick(await ctx.client.get("aciGws", "aciGw"), ACIGW_FIELDS);
  } catch (err) {
    if (!(err instanceof ServerError)) throw err;
    gw = { name: "aciGw" };
  }
  gw["pathBindings"] = ctx.str("path-bindings");
  gw["nodeBindings"] = ctx.str("node-bindings");
  gw["physicalDomain"] = ctx.str("phys-dom");
  gw["enforcePolicies"] = ctx.str("enforce-policies");
  gw["includeCommonTenant"] = ctx.str("include-common-tenant");
  await ctx.client.post("aciGws", "aciGw", omitEmpty(gw));
  ctx.noteAci();
}

export const globalCommand: CommandSpec = {
  name: "global",
  usage: "Global information",
  subcommands: [
    { name: "info", usage: "Show global information", flags: [tenantFlag, allFlag, jsonFlag], action: showGlobal },
    { name: "inspect", usage: "Inspect Global Operational Information", action: inspectGlobal },
    {
      name: "set",
      usage: "Set global parameters (only the fields given change)",
      flags: [
        {
          name: "fabric-mode",
          short: "f",
          kind: "string",
          value: "mode",
          usage: "Fabric mode (aci, aci-opflex or default)",
        },
        { name: "vlan-range", short: "v", kind: "string", value: "range", usage: "Allowed Vlan id range" },
        { name: "vxlan-range", short: "x", kind: "string", value: "range", usage: "Allowed Vxlan VNID range" },
        { name: "fwd-mode", short: "b", kind: "string", value: "mode", usage: "forwarding mode (bridge,routing)" },
        { name: "arp-mode", short: "a", kind: "string", value: "mode", usage: "arp mode (proxy,flood)" },
        {
          name: "private-subnet",
          short: "s",
          kind: "string",
          value: "cidr",
          usage: "Select a /16 private subnet for host access",
        },
        {
          name: "sdn-controller",
          kind: "string",
          value: "target",
          usage: 'SDN controller for every host\'s OVS bridge, tcp:IP:PORT or ssl:IP:PORT ("" for none); an agent\'s --ovs-controller overrides it',
        },
      ],
      action: setGlobal,
    },
  ],
};

export const aciGwCommand: CommandSpec = {
  name: "aci-gw",
  usage: "ACI Gateway information (stored only: this system does not program an ACI fabric)",
  subcommands: [
    { name: "info", usage: "Show aci gateway information", flags: [tenantFlag, allFlag, jsonFlag], action: showAciGw },
    { name: "inspect", usage: "Inspect aci gateway operational information", action: inspectAciGw },
    {
      name: "set",
      usage: "Set aci-gw parameters",
      flags: [
        {
          name: "path-bindings",
          short: "p",
          kind: "string",
          value: "paths",
          usage: "Blank or comma separated paths of the form topology/pod-1/paths-101/pathep-[eth1/14]",
        },
        {
          name: "node-bindings",
          short: "n",
          kind: "string",
          value: "nodes",
          usage: "Blank or comma separated nodes of the form topology/pod-1/node-101",
        },
        {
          name: "phys-dom",
          short: "d",
          kind: "string",
          value: "domain",
          usage: "ACI physical domain name (e.g. containerDom)",
        },
        {
          name: "enforce-policies",
          short: "e",
          kind: "string",
          default: "yes",
          value: "yes|no",
          usage: "Should security policies be enforced (yes,no)",
        },
        {
          name: "include-common-tenant",
          short: "i",
          kind: "string",
          default: "no",
          value: "yes|no",
          usage: "Should gateway look up objects in common tenant as well(yes,no)",
        },
      ],
      action: setAciGw,
    },
  ],
};
