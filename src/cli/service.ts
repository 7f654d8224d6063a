// netctl service ls|create|rm|inspect (service load balancers, collection `serviceLBs`)

import { allFlag, fieldList, fieldStr, jsonFlag, omitEmpty, quietFlag, tenantFlag } from "./command.js";
import type { CommandContext, CommandSpec, FlagSpec } from "./command.js";
import { filterTenant, printInspect, printList, verifyTenant } from "./listing.js";
import { goValue, TabWriter } from "./table.js";

/** `service create` and `rm` have a -t without default; an empty tenant means "default". */
const serviceTenantFlag: FlagSpec = {
  name: "tenant",
  short: "t",
  kind: "string",
  value: "tenant",
  usage: "service tenant",
};

function tenantOf(ctx: CommandContext): string {
  return ctx.str("tenant") || "default";
}

async function createService(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Service name required");
  const service = ctx.args[0] ?? "";
  const tenant = tenantOf(ctx);
  await ctx.client.post(
    "serviceLBs",
    `${tenant}:${service}`,
    omitEmpty({
      serviceName: service,
      tenantName: tenant,
      networkName: ctx.str("network"),
      ipAddress: ctx.str("preferred-ip"),
      selectors: ctx.list("selector"),
      ports: ctx.list("port"),
    }),
  );
  ctx.print(`Creating ServiceLB ${tenant}:${service}\n`);
}

async function deleteService(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Service name required");
  const service = ctx.args[0] ?? "";
  const tenant = tenantOf(ctx);
  ctx.print(`Deleting Service  ${service},${tenant}\n`);
  await ctx.client.delete("serviceLBs", `${tenant}:${service}`);
}

async function inspectService(ctx: CommandContext): Promise<void> {
  ctx.requireArgs(1, "Service group name required");
  await printInspect(ctx, "serviceLBs", `${tenantOf(ctx)}:${ctx.args[0] ?? ""}`);
}

async function listServices(ctx: CommandContext): Promise<void> {
  ctx.requireNoArgs();
  const tenant = tenantOf(ctx);
  await verifyTenant(ctx, tenant);
  const services = filterTenant(ctx, await ctx.client.list("serviceLBs"), tenant);
  printList(ctx, services, "serviceName", () => {
    const w = new TabWriter();
    w.write("ServiceName\tTenant\tNetwork\tSelectors\n");
    w.write("---------\t--------\t-------\t-------\n");
    for (const s of services) {
      // The trailing tab is Contiv's: it makes Selectors a padded column of its own.
      const f = (k: string): string => fieldStr(s, k);
      w.write(`${f("serviceName")}\t${f("tenantName")}\t${f("networkName")}\t${goValue(fieldList(s, "selectors"))}\t\n`);
    }
    return w.flush();
  });
}

export const serviceCommand: CommandSpec = {
  name: "service",
  usage: "service object creation",
  subcommands: [
    {
      name: "create",
      usage: "Create Service object",
      argsUsage: "<service>",
      flags: [
        serviceTenantFlag,
        { name: "network", short: "s", kind: "string", value: "network", usage: "service network name" },
        {
          name: "selector",
          short: "l",
          kind: "list",
          value: "key=value",
          usage: "service selector (repeatable): --selector=key1=value1 --selector=key2=value2",
        },
        {
          name: "port",
          short: "p",
          kind: "list",
          value: "svc:prov:proto",
          usage: "service/provider port (repeatable): --port=svcPort1:provPort1:protocol",
        },
        { name: "preferred-ip", aliases: ["ip"], kind: "string", value: "ip", usage: "preferred ip address" },
      ],
      action: createService,
    },
    {
      name: "inspect",
      usage: "Inspect a service",
      argsUsage: "<service>",
      flags: [tenantFlag],
      action: inspectService,
    },
    {
      name: "ls",
      aliases: ["list"],
      usage: "List service objects",
      flags: [tenantFlag, allFlag, jsonFlag, quietFlag],
      action: listServices,
    },
    {
      name: "rm",
      aliases: ["delete"],
      usage: "Delete service object",
      argsUsage: "<service>",
      flags: [serviceTenantFlag],
      action: deleteService,
    },
  ],
};
