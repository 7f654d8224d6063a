import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ProcessError } from "../../lib/process.js";
import { failedBatchLines, hostCommand, isNotFound } from "./tools.js";

describe("isNotFound", () => {
  const cases: Array<[string, boolean]> = [
    ['Cannot find device "ne01"', true],
    ["Error: ipv4: Address not found.", true],
    ["RTNETLINK answers: No such process", true],
    ['Cannot open network namespace "x": No such file or directory', true],
    ["Error: Cannot delete qdisc with handle of zero.", true],
    ["Error: No such file or directory\nlist table inet netplugin", true],
    ["RTNETLINK answers: File exists", false],
    ["Error: Failed to load TC action module.", false],
    ["/dev/stdin:4:8-10: Error: syntax error, unexpected fwd", false],
  ];
  for (const [stderr, notFound] of cases) {
    it(`reads "${stderr.split("\n")[0]}" as ${notFound ? "" : "not "}missing`, () => {
      assert.equal(isNotFound(new ProcessError(["ip", "x"], 2, stderr)), notFound);
    });
  }

  it("is false for anything but a failed command", () => {
    assert.equal(isNotFound(new Error('Cannot find device "ne01"')), false);
  });
});

describe("failedBatchLines", () => {
  it("reads the failed lines of a batch", () => {
    const error = new ProcessError(["ip", "-batch", "-"], 1, "RTNETLINK answers: File exists\nCommand failed -:2\nx\nCommand failed -:5\n");
    assert.deepEqual(failedBatchLines(error), [2, 5]);
  });

  it("is empty when the tool did not say, or the error is no failed command", () => {
    assert.deepEqual(failedBatchLines(new ProcessError(["ip", "-batch", "-"], 1, "killed")), []);
    assert.deepEqual(failedBatchLines(new Error("Command failed -:2")), []);
  });
});

describe("hostCommand", () => {
  it("runs as is without a stand-in namespace", () => {
    assert.deepEqual(hostCommand(["nft", "-f", "-"]), { argv: ["nft", "-f", "-"] });
  });

  it("gives ip, tc and bridge -n, anything else ip netns exec", () => {
    assert.deepEqual(hostCommand(["ip", "link", "show"], "h1"), { argv: ["ip", "-n", "h1", "link", "show"] });
    assert.deepEqual(hostCommand(["bridge", "fdb"], "h1"), { argv: ["bridge", "-n", "h1", "fdb"] });
    assert.deepEqual(hostCommand(["sysctl", "-w", "x=1"], "h1"), { argv: ["sysctl", "-w", "x=1"], netns: "h1" });
  });
});
