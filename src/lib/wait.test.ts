import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { StopWaiting, waitFor } from "./wait.js";

describe("waitFor", () => {
  it("returns the probe's first value that is neither undefined nor false", async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls < 3 ? undefined : { calls }), { what: () => "three calls", intervalMs: 1 });
    assert.deepEqual(value, { calls: 3 });
  });

  it("tries a probe that throws again", async () => {
    let calls = 0;
    const value = await waitFor(
      async () => {
        if (++calls < 3) throw new Error("not yet");
        return true;
      },
      { what: () => "three calls", intervalMs: 1 },
    );
    assert.equal(value, true);
    assert.equal(calls, 3);
  });

  it("times out naming what it waited for, as it stands then", async () => {
    let calls = 0;
    await assert.rejects(
      waitFor(() => (calls++, false), { what: () => `a probe that said no ${calls} times`, timeoutMs: 30, intervalMs: 5 }),
      (error: Error) => /^Timed out after 30 ms waiting for a probe that said no \d+ times$/.test(error.message) && calls > 1,
    );
  });

  it("ends the timeout's message with the last try's error, its cause", async () => {
    const last = new Error("connection refused");
    await assert.rejects(
      waitFor(
        () => {
          throw last;
        },
        { what: () => "the server", timeoutMs: 20, intervalMs: 5 },
      ),
      (error: Error) => error.message === "Timed out after 20 ms waiting for the server: connection refused" && error.cause === last,
    );
  });

  it("leaves out an error a later try did not repeat", async () => {
    let calls = 0;
    await assert.rejects(
      waitFor(
        () => {
          if (++calls === 1) throw new Error("first try only");
          return false;
        },
        { what: () => "nothing", timeoutMs: 20, intervalMs: 5 },
      ),
      (error: Error) => error.message === "Timed out after 20 ms waiting for nothing" && error.cause === undefined,
    );
  });

  it("stops at once on StopWaiting", async () => {
    let calls = 0;
    const started = Date.now();
    await assert.rejects(
      waitFor(
        () => {
          calls++;
          throw new StopWaiting("the server exited");
        },
        { what: () => "the server", timeoutMs: 5_000 },
      ),
      (error: Error) => error instanceof StopWaiting && error.message === "the server exited",
    );
    assert.equal(calls, 1);
    assert.ok(Date.now() - started < 4_000, "not after the 5 s timeout");
  });
});
