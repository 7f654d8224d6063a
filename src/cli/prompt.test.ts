// UserInput with a stand-in terminal (a stream that says it is a TTY and records raw mode); the real
// pseudo-terminal is in loginTty.test.ts.

import assert from "node:assert/strict";
import { PassThrough, Readable } from "node:stream";
import { describe, it } from "node:test";

import fc from "fast-check";

import { CliError, ExitCode } from "./errors.js";
import { UserInput } from "./prompt.js";

function fakeTerminal(keys: Array<string | Buffer>): { input: UserInput; modes: boolean[]; shown: () => string } {
  const stream = Object.assign(new PassThrough(), { isTTY: true });
  const modes: boolean[] = [];
  Object.assign(stream, { setRawMode: (raw: boolean) => modes.push(raw) });
  // Keys arrive one chunk at a time, as a terminal in raw mode delivers them.
  (async () => {
    for (const k of keys) {
      await new Promise((r) => setImmediate(r));
      stream.write(k);
    }
  })();
  let out = "";
  return { input: new UserInput(stream, { write: (s: string) => (out += s) }), modes, shown: () => out };
}

describe("UserInput", () => {
  it("secret: raw mode on before the prompt and off after, Enter ends it, nothing echoed", async () => {
    const t = fakeTerminal(["s3", "cr", "et\r", "rest\n"]);
    assert.equal(await t.input.secret("Password: "), "s3cret");
    assert.deepEqual(t.modes, [true, false]);
    assert.equal(t.shown(), "Password: \n");
    assert.equal(await t.input.line("Next: "), "rest");
    t.input.close();
  });

  it("secret: Backspace, Ctrl-U and arrow keys edit; Ctrl-D ends a typed password", async () => {
    const cases: Array<[keys: string[], want: string]> = [
      [["abX\x7fc\r"], "abc"],
      [["ab\b\bxy\n"], "xy"],
      [["wrong\x15right\r"], "right"],
      [["a\x1b[D\x1b[1;5Cb\x1bOPc\r"], "abc"],
      [["pässwörd🔑\x7f\r"], "pässwörd"],
      [["typed\x04"], "typed"],
    ];
    for (const [keys, want] of cases) {
      const t = fakeTerminal(keys);
      assert.equal(await t.input.secret("P: "), want, JSON.stringify(keys));
      t.input.close();
    }
  });

  it("secret: Ctrl-C is exit 130, end of input exit 4, and the terminal is put back either way", async () => {
    const cases: Array<[keys: string[], code: number, message: string]> = [
      [["par", "\x03"], ExitCode.interrupted, "Interrupted"],
      [["\x04"], ExitCode.io, "Cannot read a password: end of input"],
    ];
    for (const [keys, code, message] of cases) {
      const t = fakeTerminal(keys);
      await assert.rejects(t.input.secret("P: "), (err: unknown) => {
        assert.ok(err instanceof CliError);
        assert.equal(err.exitCode, code);
        assert.equal(err.message, message);
        return true;
      });
      assert.deepEqual(t.modes, [true, false]);
      t.input.close();
    }
  });

  it("property: any printable password, its bytes cut anywhere (mid-character too), comes back whole", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "grapheme" }).filter((s) => !/[\x00-\x1f\x7f]/.test(s)), fc.integer({ min: 1, max: 5 }), async (pw, size) => {
        const typed = Buffer.from(pw + "\r");
        const chunks: Buffer[] = [];
        for (let i = 0; i < typed.length; i += size) chunks.push(typed.subarray(i, i + size));
        const t = fakeTerminal(chunks);
        assert.equal(await t.input.secret("P: "), pw);
        t.input.close();
      }),
      { numRuns: 50 },
    );
  });

  it("not a terminal: no secret; line and all read a pipe", async () => {
    const input = new UserInput(Readable.from(["alice\r\nline two\nlast"]), { write: () => undefined });
    assert.equal(input.isTerminal, false);
    await assert.rejects(input.secret("P: "), { message: "Cannot read a password: stdin is not a terminal" });
    assert.equal(await input.line("U: "), "alice");
    assert.equal(await input.all(), "line two\nlast");
    assert.equal(await input.line("U: "), undefined);
    input.close();
  });

  it("all drops exactly one line end", async () => {
    for (const [given, want] of [["pw", "pw"], ["pw\n", "pw"], ["pw\r\n", "pw"], ["pw\n\n", "pw\n"], [" pw \n", " pw "], ["", ""]]) {
      assert.equal(await new UserInput(Readable.from([Buffer.from(given ?? "")]), { write: () => undefined }).all(), want);
    }
  });
});
