import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { netnsProblem } from "./netns.js";

describe("netnsProblem", () => {
  const name = `npn${randomBytes(3).toString("hex")}`;
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), `${name}-`));
    writeFileSync(join(dir, "file"), "");
    mkdirSync(join(dir, "dir"));
    symlinkSync("/proc/self/ns/net", join(dir, "link"));
    execFileSync("mkfifo", [join(dir, "fifo")]);
    execFileSync("ip", ["netns", "add", name]);
  });
  after(() => {
    execFileSync("ip", ["netns", "del", name], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  });

  it("accepts a named namespace (a bind mount), /proc/<pid>/ns/net and a link to it", () => {
    assert.equal(netnsProblem(`/run/netns/${name}`), undefined);
    assert.equal(netnsProblem(`/proc/${process.pid}/ns/net`), undefined);
    assert.equal(netnsProblem(join(dir, "link")), undefined);
  });

  it("tells a missing path from anything else", () => {
    assert.deepEqual(netnsProblem(join(dir, "gone")), { missing: true, message: "does not exist" });
    assert.deepEqual(netnsProblem(join(dir, "file", "below")), { missing: true, message: "does not exist" });
    assert.deepEqual(netnsProblem(`/run/netns/${name}-gone`), { missing: true, message: "does not exist" });
  });

  const others: [string, () => string, string][] = [
    ["a regular file", () => join(dir, "file"), "is a regular file, not a network namespace"],
    ["a directory", () => join(dir, "dir"), "is a directory, not a network namespace"],
    ["a FIFO, without blocking on it", () => join(dir, "fifo"), "is a FIFO, not a network namespace"],
    ["a device", () => "/dev/null", "is a device, not a network namespace"],
    ["a namespace of another kind", () => "/proc/self/ns/mnt", "is a mnt namespace, not a network namespace"],
  ];
  for (const [what, path, message] of others) {
    it(`refuses ${what}`, () => assert.deepEqual(netnsProblem(path()), { missing: false, message }));
  }
});
