// Serving a Prometheus registry over HTTP, for the agent and netmaster alike.

import type { Context } from "hono";
import type { Registry } from "prom-client";

/** GET /metrics: the registry in Prometheus's text format. */
export async function serveMetrics(c: Context, registry: Registry): Promise<Response> {
  return c.body(await registry.metrics(), 200, { "content-type": registry.contentType });
}
