// The folders of src/ and what each may import, tests included: data flows one way, and netmaster and its
// agents meet only in the contract (src/contract). A new import across the lines below fails here.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

/** Folder → the other folders of src/ it may import from. */
const ALLOWED: Record<string, string[]> = {
  lib: [],
  model: ["lib"],
  store: ["lib"],
  policy: ["lib"],
  contract: ["lib", "model", "policy"],
  datapath: ["lib", "policy"],
  master: ["lib", "model", "store", "contract", "policy"],
  agent: ["lib", "model", "policy", "contract", "datapath", "cni"],
  cni: ["lib"],
  cli: ["lib"],
  cluster: ["lib", "datapath"],
  bin: ["lib", "model", "store", "contract", "master", "agent", "datapath", "cni", "cli", "cluster"],
};

// Compiled to dist/src/layering.test.js; the sources are two levels up.
const SRC = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Every relative import of a file, as a path under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\sfrom\s+"(\.[^"]+)"/g)) {
    out.push(relative(SRC, normalize(join(dirname(file), m[1]!))));
  }
  return out;
}

/** Imports that cross a line not drawn above: "file imports target", both relative to src/. */
function crossings(imports: Map<string, string[]>): string[] {
  const wrong: string[] = [];
  for (const [file, targets] of imports) {
    const from = file.split("/")[0]!;
    if (from.endsWith(".ts")) continue;
    for (const target of targets) {
      const to = target.split("/")[0]!;
      if (to !== from && !(ALLOWED[from] ?? []).includes(to)) wrong.push(`${file} imports ${target}`);
    }
  }
  return wrong;
}

describe("layering of src/", () => {
  const files = sources(SRC);

  it("knows every folder", () => {
    const folders = new Set(files.map((f) => relative(SRC, f).split("/")[0]!).filter((f) => !f.endsWith(".ts")));
    assert.deepEqual([...folders].filter((f) => !(f in ALLOWED)), []);
  });

  it("every import crosses only the lines drawn above", () => {
    assert.deepEqual(crossings(new Map(files.map((f) => [relative(SRC, f), importsOf(f)]))), []);
  });

  it("names an agent file that imports from netmaster, and a netmaster file that imports from an agent", () => {
    const imports = new Map([
      ["agent/x.ts", ["master/keys.js", "contract/keys.js"]],
      ["master/y.ts", ["agent/mirror.js"]],
    ]);
    assert.deepEqual(crossings(imports), ["agent/x.ts imports master/keys.js", "master/y.ts imports agent/mirror.js"]);
  });
});
