import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Hono } from "hono";
import { allowedMethods } from "./allow.js";

describe("allowedMethods", () => {
  const app = new Hono({ strict: false });
  app.use("*", async (_c, next) => next());
  const ok = () => new Response("");
  app.get("/version", ok);
  app.get("/api/v1/:collection", ok);
  app.delete("/api/v1/:collection/:key", ok);
  app.put("/api/v1/:collection/:key", ok);
  app.post("/api/v1/:collection/:key", ok);
  app.get("/api/v1/:collection/:key", ok);
  app.post("/api/v1/agent/endpoints", ok);
  app.put("/api/v1/agent/hosts/:name", ok);
  const allowed = allowedMethods(app);
  app.patch("/late", ok);

  const cases: [path: string, want: string[]][] = [
    ["/version", ["GET", "HEAD"]],
    ["/api/v1/tenants", ["GET", "HEAD"]],
    ["/api/v1/tenants/blue", ["GET", "HEAD", "POST", "PUT", "DELETE"]],
    ["/api/v1/agent/endpoints", ["GET", "HEAD", "POST", "PUT", "DELETE"]],
    ["/api/v1/agent/hosts/h1", ["PUT"]],
    ["/", []],
    ["/api/v1/a/b/c", []],
    ["/nope", []],
    ["/late", []],
  ];
  for (const [path, want] of cases) {
    it(`${path} → ${want.join(", ") || "(none)"}`, () => assert.deepEqual(allowed(path), want));
  }
});
