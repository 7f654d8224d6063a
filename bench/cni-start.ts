// Issue 16, item 4: what start-up options exist for the CNI executable, measured. Builds each candidate in a
// temporary directory, then spawns every candidate doing the smallest real work (CNI_COMMAND=VERSION with a config
// on stdin) many times, interleaved in a shuffled order each round so a busy machine slows them all alike, and
// prints p50/p95 wall time from spawn to exit next to a bare `node -e 0` measured in the same rounds.
//
//   node dist/bench/cni-start.js [rounds]        (after `make build`; default 200 rounds)
//
// The bundlers and other runtimes but bun are not project dependencies: point CNI_START_TOOLS at a directory holding
// any of esbuild, postject, bun, deno (e.g. a scratch `npm i esbuild postject bun deno`'s node_modules/.bin); the
// candidates whose tool is missing are skipped and named. CNI_START_BEFORE (default 7af9ed9, the last revision whose
// executable was an ES module ending in a top-level await) names the revision whose src/bin/netplugin-cni.ts the
// variants are made from; CNI_START_ONLY (a regular expression) narrows the candidates.
//
// Taken (session 9): `make build` compiles the executable with bun (`bun build --compile --bytecode`), which
// starts in 4.3 ms (hyperfine, VERSION) against 25.2 for the CommonJS build under Node and 23.6 for `node -e 0`.
// A run builds three 99 MB SEA copies and a 109 MB bun executable in its temporary directory, removed at the end.
//
// Measured on the 2-core CI machine while CI ran (300 rounds, p50/p95 ms): node -e 0 33.5/60.1; main's
// bin/netplugin-cni (sh wrapper, ESM) 52.6/88.0; this branch's bin/netplugin-cni (CommonJS, env shebang) 36.1/69.1;
// an esbuild CJS bundle 34.7/74.9; SEA 35.4/69.1; bun running the .ts 14.6/28.9. The user-land snapshot
// (--snapshot-blob) was no faster than the CommonJS file; V8 flags (--jitless, --single-threaded, small semi-space,
// --v8-pool-size=0) were slower or equal.

import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const ROUNDS = Number(process.argv[2] ?? 200);
const TOOLS = process.env["CNI_START_TOOLS"] ?? "";
const tool = (name: string): string | undefined => {
  const p = path.join(TOOLS, name);
  return TOOLS !== "" && existsSync(p) ? p : undefined;
};
const NODE = process.execPath;
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const STDIN = '{"cniVersion":"1.0.0","name":"n","type":"netplugin"}';
const EXPECT = '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n';

// As bin/netplugin-cni runs it: without NODE_EXTRA_CA_CERTS (loading a CA bundle costs ~30 ms).
const baseEnv: NodeJS.ProcessEnv = { ...process.env, CNI_COMMAND: "VERSION" };
delete baseEnv["NODE_EXTRA_CA_CERTS"];

type Candidate = { name: string; cmd: string; args: string[]; env?: NodeJS.ProcessEnv; expect?: string; build: string };
const candidates: Candidate[] = [];
const skipped: string[] = [];
const work = mkdtempSync(path.join(tmpdir(), "cni-start-"));

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): void {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? work, env: opts.env ?? baseEnv, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.status}\n${r.stderr}`);
}

function build(): void {
  const empty = path.join(work, "empty.mjs");
  writeFileSync(empty, "");
  writeFileSync(path.join(work, "empty.cjs"), "");
  candidates.push(
    { name: "node -e 0 (baseline)", cmd: NODE, args: ["-e", "0"], expect: "", build: "-" },
    { name: "node empty.cjs", cmd: NODE, args: [path.join(work, "empty.cjs")], expect: "", build: "-" },
    { name: "node empty.mjs (ESM loader)", cmd: NODE, args: [empty], expect: "", build: "-" },
  );
  // This checkout's build, as `make build` leaves it.
  candidates.push({ name: "branch: node dist/…/netplugin-cni.js", cmd: NODE, args: [path.join(ROOT, "dist/src/bin/netplugin-cni.js")], build: "tsc" });
  const wrapper = path.join(ROOT, "bin/netplugin-cni");
  if (existsSync(wrapper)) candidates.push({ name: "branch: bin/netplugin-cni", cmd: wrapper, args: [], build: "make build" });

  const esbuild = tool("esbuild");
  if (esbuild === undefined) {
    skipped.push("the executable as on main, bundles, snapshot, SEA (no esbuild)");
    return;
  }
  // Every other candidate starts from the entry as it is on BEFORE (main: an ES module ending in a top-level await,
  // importing node:tty), transpiled file by file as tsc does, and run as `make build` ran it there.
  const before = process.env["CNI_START_BEFORE"] ?? "7af9ed9";
  const src = spawnSync("git", ["show", `${before}:src/bin/netplugin-cni.ts`], { cwd: ROOT, encoding: "utf8" }).stdout;
  const tla = /^process\.exit\(await main\(\)\);$/m;
  if (!tla.test(src)) throw new Error(`${before}:src/bin/netplugin-cni.ts no longer ends in process.exit(await main())`);
  const esmDir = (name: string, text: string): string => {
    const dir = path.join(work, name);
    const entryTs = path.join(ROOT, `src/bin/.cni-start-${name}.ts`);
    writeFileSync(entryTs, text);
    try {
      run(esbuild, [entryTs, "--format=esm", "--platform=node", "--log-level=warning", `--outfile=${dir}/src/bin/cni.js`]);
    } finally {
      rmSync(entryTs, { force: true });
    }
    mkdirSync(path.join(dir, "src/cni"), { recursive: true });
    copyFileSync(path.join(ROOT, "dist/src/cni/wire.js"), path.join(dir, "src/cni/wire.js"));
    writeFileSync(path.join(dir, "package.json"), '{"type":"module"}\n');
    return `${dir}/src/bin/cni.js`;
  };
  const tsc = esmDir("main", src);
  const shWrapper = path.join(work, "netplugin-cni.sh");
  writeFileSync(shWrapper, `#!/bin/sh\nunset NODE_EXTRA_CA_CERTS\nexec node "$(dirname "$(readlink -f "$0")")/main/src/bin/cni.js" "$@"\n`, { mode: 0o755 });
  candidates.push(
    { name: "main: node dist/…/netplugin-cni.js", cmd: NODE, args: [tsc], build: "tsc (make build)" },
    { name: "main: bin/netplugin-cni (sh wrapper)", cmd: shWrapper, args: [], build: "tsc (make build)" },
    {
      name: "main, NODE_EXTRA_CA_CERTS left set",
      cmd: NODE,
      args: [tsc],
      env: { ...baseEnv, NODE_EXTRA_CA_CERTS: "/etc/ssl/certs/ca-certificates.crt" },
      build: "tsc",
    },
    { name: "main + --jitless", cmd: NODE, args: ["--jitless", tsc], build: "tsc" },
    { name: "main + --v8-pool-size=0", cmd: NODE, args: ["--v8-pool-size=0", tsc], build: "tsc" },
    { name: "main + --max-semi-space-size=1", cmd: NODE, args: ["--max-semi-space-size=1", tsc], build: "tsc" },
    { name: "main + --single-threaded", cmd: NODE, args: ["--single-threaded", tsc], build: "tsc" },
  );

  // A CJS bundle (what --build-snapshot and SEA take on Node 20) cannot hold a top-level await: the entry's last
  // statement is rewritten for it; the snapshot's registers main() to run when the snapshot is deserialized.
  const run_ = "void main().then((code) => process.exit(code));";
  const snapTail =
    'const snap = require("node:v8").startupSnapshot;\n' +
    `if (snap.isBuildingSnapshot()) snap.setDeserializeMainFunction(() => { ${run_} });\nelse ${run_}\n`;
  // `import { isatty } from "node:tty"` alone loads net, stream and 25 more internal modules: fstat answers the
  // only question the entry asks (is stdin a terminal, for VERSION) with node:fs, which is loaded anyway.
  const ttyImport = 'import { isatty } from "node:tty";';
  const fsImport = 'import { readSync, writeSync } from "node:fs";';
  if (!src.includes(ttyImport) || !src.includes(fsImport)) throw new Error(`${before}:src/bin/netplugin-cni.ts: imports changed`);
  const noTty = (s: string): string =>
    s
      .replace(fsImport, 'import { fstatSync, readSync, writeSync } from "node:fs";')
      .replace(ttyImport, "const isatty = (fd: number): boolean => fstatSync(fd).isCharacterDevice();");
  // The rewritten entries sit beside the real one so their relative imports resolve; removed right after.
  const entries = {
    esmNoTty: noTty(src),
    cjs: src.replace(tla, run_),
    cjsNoTty: noTty(src.replace(tla, run_)),
    snap: src.replace(tla, snapTail), // esbuild strips types and does not check them
  };
  const entry = (k: keyof typeof entries): string => path.join(ROOT, `src/bin/.cni-start-${k}.ts`);
  for (const [k, text] of Object.entries(entries)) writeFileSync(entry(k as keyof typeof entries), text);
  const cjsEntry = entry("cjs");
  const snapEntry = entry("snap");
  try {
    // No bundler: tsc alone, a second small project emitting CommonJS (the entry and what it imports) into a
    // directory whose package.json says so.
    const tscOut = path.join(work, "tsc-cjs");
    writeFileSync(
      path.join(work, "tsconfig.cni.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022", module: "commonjs", moduleResolution: "node10", outDir: tscOut, rootDir: ROOT,
          strict: true, skipLibCheck: true, esModuleInterop: true, types: ["node"], typeRoots: [path.join(ROOT, "node_modules/@types")],
        },
        files: [entry("cjs"), entry("cjsNoTty")],
      }),
    );
    run(path.join(ROOT, "node_modules/.bin/tsc"), ["-p", path.join(work, "tsconfig.cni.json")]);
    writeFileSync(path.join(tscOut, "package.json"), '{"type":"commonjs"}\n');
    candidates.push(
      { name: "main, isatty via fstat (ESM, 2 files)", cmd: NODE, args: [esmDir("esm-no-tty", entries.esmNoTty)], build: "tsc" },
      { name: "tsc CommonJS (2nd tsconfig)", cmd: NODE, args: [`${tscOut}/src/bin/.cni-start-cjs.js`], build: "tsc, 2nd small project" },
      { name: "tsc CommonJS, isatty via fstat", cmd: NODE, args: [`${tscOut}/src/bin/.cni-start-cjsNoTty.js`], build: "tsc, 2nd small project" },
    );
    // bin/netplugin-cni is a sh script that forks readlink and dirname before exec'ing node: a shebang that has env
    // drop NODE_EXTRA_CA_CERTS and exec node does the same with no shell (the CJS loader follows the symlinks).
    const shebanged = path.join(tscOut, "src/bin/.cni-start-cjsNoTty.js");
    const body = readFileSync(shebanged, "utf8").replace(/^#!.*\n/, "");
    writeFileSync(shebanged, `#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node\n${body}`);
    chmodSync(shebanged, 0o755);
    const link = path.join(work, "netplugin");
    symlinkSync(shebanged, link);
    candidates.push({
      name: "tsc CJS, fstat, env -S shebang (no sh)",
      cmd: link,
      args: [],
      env: { ...baseEnv, NODE_EXTRA_CA_CERTS: "/etc/ssl/certs/ca-certificates.crt" },
      build: "tsc, 2nd small project",
    });

    const common = ["--bundle", "--platform=node", "--target=node20", "--log-level=warning"];
    run(esbuild, [path.join(ROOT, "src/bin/netplugin-cni.ts"), ...common, "--format=esm", `--outfile=${work}/cni.mjs`]);
    run(esbuild, [cjsEntry, ...common, "--format=cjs", `--outfile=${work}/cni.cjs`]);
    run(esbuild, [cjsEntry, ...common, "--format=cjs", "--minify", `--outfile=${work}/cni.min.cjs`]);
    run(esbuild, [entry("cjsNoTty"), ...common, "--format=cjs", `--outfile=${work}/cni-notty.cjs`]);
    run(esbuild, [snapEntry, ...common, "--format=cjs", `--outfile=${work}/cni-snap.cjs`]);
  } finally {
    for (const k of Object.keys(entries)) rmSync(entry(k as keyof typeof entries), { force: true });
  }
  candidates.push(
    { name: "esbuild ESM bundle: node cni.mjs", cmd: NODE, args: [`${work}/cni.mjs`], build: "esbuild (npm dev dep)" },
    { name: "esbuild CJS bundle: node cni.cjs", cmd: NODE, args: [`${work}/cni.cjs`], build: "esbuild" },
    { name: "esbuild CJS minified", cmd: NODE, args: [`${work}/cni.min.cjs`], build: "esbuild" },
    { name: "esbuild CJS bundle, isatty via fstat", cmd: NODE, args: [`${work}/cni-notty.cjs`], build: "esbuild" },
    { name: "CJS bundle + --v8-pool-size=0", cmd: NODE, args: ["--v8-pool-size=0", `${work}/cni.cjs`], build: "esbuild" },
  );

  // Node 20's user-land start-up snapshot: CJS only, built-in requires only (a bundle), one blob per Node version.
  run(NODE, ["--snapshot-blob", `${work}/snap.blob`, "--build-snapshot", `${work}/cni-snap.cjs`]);
  candidates.push({
    name: "node --snapshot-blob snap.blob",
    cmd: NODE,
    args: ["--snapshot-blob", `${work}/snap.blob`],
    build: "esbuild + node --build-snapshot (4 MB blob, per Node binary)",
  });

  // Single-executable applications: a copy of the node binary (~99 MB) with the bundle injected by postject.
  const postject = tool("postject");
  if (postject === undefined) skipped.push("SEA (no postject)");
  else {
    for (const [kind, main, opt] of [
      ["plain", "cni.cjs", { useCodeCache: false }],
      ["code cache", "cni.cjs", { useCodeCache: true }],
      ["snapshot", "cni-snap.cjs", { useSnapshot: true }],
    ] as const) {
      const tag = kind.replace(" ", "-");
      const config = path.join(work, `sea-${tag}.json`);
      writeFileSync(config, JSON.stringify({ main, output: `sea-${tag}.blob`, disableExperimentalSEAWarning: true, ...opt }));
      run(NODE, ["--experimental-sea-config", config]);
      const exe = path.join(work, `cni-sea-${tag}`);
      copyFileSync(NODE, exe);
      run(postject, [exe, "NODE_SEA_BLOB", `sea-${tag}.blob`, "--sentinel-fuse", SEA_FUSE]);
      run("chmod", ["+x", exe]);
      candidates.push({ name: `SEA (${kind})`, cmd: exe, args: [], build: "esbuild + postject (npm), 99 MB executable" });
    }
  }

  const bun = tool("bun");
  if (bun === undefined) skipped.push("bun");
  else {
    run(bun, ["build", "--compile", path.join(ROOT, "src/bin/netplugin-cni.ts"), "--outfile", `${work}/cni-bun`]);
    candidates.push(
      { name: "bun src/bin/netplugin-cni.ts", cmd: bun, args: [path.join(ROOT, "src/bin/netplugin-cni.ts")], build: "bun (npm, 100 MB binary)" },
      { name: "bun cni.mjs (bundle)", cmd: bun, args: [`${work}/cni.mjs`], build: "esbuild + bun" },
      { name: "bun build --compile", cmd: `${work}/cni-bun`, args: [], build: "bun, 109 MB executable" },
    );
  }
  const deno = tool("deno");
  if (deno === undefined) skipped.push("deno");
  else candidates.push({ name: "deno run -A cni.mjs (bundle)", cmd: deno, args: ["run", "-A", "--no-config", `${work}/cni.mjs`], build: "esbuild + deno (npm)" });
}

function once(c: Candidate): { ms: number; ok: boolean; out: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(c.cmd, c.args, { env: c.env ?? baseEnv, input: STDIN, encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, ok: r.status === 0 && r.stdout === (c.expect ?? EXPECT), out: `${r.status} ${r.stdout}${r.stderr}` };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function main(): void {
  build();
  // CNI_START_ONLY: a regular expression; only the candidates it matches (and the baseline) are measured.
  const only = process.env["CNI_START_ONLY"];
  if (only !== undefined) {
    const re = new RegExp(only);
    const kept = candidates.filter((c, i) => i === 0 || re.test(c.name));
    candidates.splice(0, candidates.length, ...kept);
  }
  const times = new Map<Candidate, number[]>(candidates.map((c) => [c, []]));
  for (const c of candidates) {
    const r = once(c);
    if (!r.ok) throw new Error(`${c.name}: wrong answer: ${r.out}`);
    for (let i = 0; i < 3; i++) once(c); // warm the page cache
  }
  for (let round = 0; round < ROUNDS; round++) {
    const order = [...candidates];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const c of order) {
      const r = once(c);
      if (!r.ok) throw new Error(`${c.name}: wrong answer in round ${round}: ${r.out}`);
      times.get(c)!.push(r.ms);
    }
  }
  const base = pct([...times.get(candidates[0]!)!].sort((a, b) => a - b), 50);
  console.log(`node ${process.version}, ${ROUNDS} interleaved rounds, CNI_COMMAND=VERSION, wall time spawn→exit (ms)`);
  console.log(`${"candidate".padEnd(40)} ${"p50".padStart(6)} ${"p95".padStart(6)} ${"p50-base".padStart(8)}  build`);
  for (const c of candidates) {
    const s = [...times.get(c)!].sort((a, b) => a - b);
    const p50 = pct(s, 50);
    console.log(`${c.name.padEnd(40)} ${p50.toFixed(1).padStart(6)} ${pct(s, 95).toFixed(1).padStart(6)} ${(p50 - base).toFixed(1).padStart(8)}  ${c.build}`);
  }
  if (skipped.length > 0) console.log(`skipped: ${skipped.join("; ")}`);
  if (process.env["CNI_START_KEEP"] === undefined) rmSync(work, { recursive: true, force: true });
  else console.log(`kept: ${work}`);
}

main();
