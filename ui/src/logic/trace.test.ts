import assert from "node:assert/strict";
import { test } from "node:test";
import { traceQuery } from "./trace.js";

test("traceQuery splits a port off `to`, and leaves a bare IPv6 address whole", () => {
  const q = (to: string) => Object.fromEntries(new URL(`http://x${traceQuery({ tenant: " t ", from: "a", to, proto: "tcp" })}`).searchParams);
  assert.deepEqual(q("10.0.0.5:80"), { tenant: "t", from: "a", proto: "tcp", to: "10.0.0.5", port: "80" });
  assert.deepEqual(q("web"), { tenant: "t", from: "a", proto: "tcp", to: "web" });
  assert.deepEqual(q("web:8080"), { tenant: "t", from: "a", proto: "tcp", to: "web", port: "8080" });
  assert.deepEqual(q("[fd00::5]:443"), { tenant: "t", from: "a", proto: "tcp", to: "fd00::5", port: "443" });
  assert.deepEqual(q("fd00::5"), { tenant: "t", from: "a", proto: "tcp", to: "fd00::5" });
});
