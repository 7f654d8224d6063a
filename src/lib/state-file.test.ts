import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { z } from "zod";
import { readStateFile, writeStateFile } from "./state-file.js";

const Format = z.object({ version: z.literal(1), items: z.array(z.string()) });

describe("state files", () => {
  const dir = mkdtempSync(join(tmpdir(), "np-state-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a missing file is a first start; what is written is read back, and no temporary file stays", () => {
    const path = join(dir, "sub", "a.json");
    assert.equal(readStateFile(path, Format), undefined);
    writeStateFile(path, { version: 1, items: ["x"] });
    assert.deepEqual(readStateFile(path, Format), { version: 1, items: ["x"] });
    assert.deepEqual(readdirSync(join(dir, "sub")), ["a.json"]);
  });

  it("a file that is cut short or does not match refuses to load, naming the file and the field", () => {
    const cut = join(dir, "cut.json");
    writeFileSync(cut, '{"version":1,"items":[');
    assert.throws(() => readStateFile(cut, Format), new RegExp(`State file ${cut} is not JSON`));
    const wrong = join(dir, "wrong.json");
    writeFileSync(wrong, '{"version":1,"items":[3]}');
    assert.throws(() => readStateFile(wrong, Format), /is not valid at items\.0/);
  });
});
