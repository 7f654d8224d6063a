import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { canResume, type StreamHistory } from "./watch-stream.js";

describe("canResume", () => {
  // This process opened the store at revision 50 and the store is now at 80.
  const history: StreamHistory = { epoch: "this", startRevision: 50 };
  const current = 80;

  it("resumes a revision this process streamed", () => {
    assert.equal(canResume({ revision: 70, epoch: "this" }, history, current), true);
    assert.equal(canResume({ revision: 80, epoch: "this" }, history, current), true);
  });

  it("resumes a revision the store already had when this process opened it (a restart on the same store)", () => {
    assert.equal(canResume({ revision: 50, epoch: "earlier" }, history, current), true);
    assert.equal(canResume({ revision: 12, epoch: "" }, history, current), true);
  });

  it("starts over from a revision of another process beyond the store's start (a restored store written again)", () => {
    assert.equal(canResume({ revision: 51, epoch: "earlier" }, history, current), false);
    assert.equal(canResume({ revision: 80, epoch: "" }, history, current), false);
  });

  it("starts over from a revision the store has not reached, or from nothing", () => {
    assert.equal(canResume({ revision: 81, epoch: "this" }, history, current), false);
    assert.equal(canResume({ revision: 0, epoch: "this" }, history, current), false);
  });
});
