// Helpers shared by the `ls` and `inspect` commands: tenant check, tenant filter, the three output
// modes (table, -j/--json, -q/--quiet).

import type { ApiObject, Collection } from "./client.js";
import { fieldStr, type CommandContext } from "./command.js";

/** Contiv's list commands first GET the tenant, so an unknown tenant is an error, even with -a. */
export async function verifyTenant(ctx: CommandContext, tenant: string): Promise<void> {
  await ctx.client.get("tenants", tenant);
}

/** Objects of `tenant`, or all of them with -a/--all. */
export function filterTenant(ctx: CommandContext, items: ApiObject[], tenant: string): ApiObject[] {
  return ctx.bool("all") ? items : items.filter((o) => fieldStr(o, "tenantName") === tenant);
}

/** -j prints the objects as pretty JSON, -q one `nameField` per line, otherwise `table()`. */
export function printList(ctx: CommandContext, items: ApiObject[], nameField: string, table: () => string): void {
  if (ctx.bool("json")) ctx.printJson(items);
  else if (ctx.bool("quiet")) ctx.print(items.map((o) => fieldStr(o, nameField) + "\n").join(""));
  else ctx.print(table());
}

/** GET /api/v1/inspect/<collection>/<key>/ and print it as pretty JSON. */
export async function printInspect(ctx: CommandContext, collection: Collection, key: string): Promise<void> {
  ctx.printJson(await ctx.client.inspect(collection, key));
}
