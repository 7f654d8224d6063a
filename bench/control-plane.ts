// Control-plane rates on both stores, through a real netmaster over HTTP:
// creating 1000 networks, allocating 10 000 addresses in one /16 (first and
// last thousand compared: allocation must not slow down as the network
// fills), and adding 1000 rules to one policy. The baseline, measured in the
// same run, is the bare store: one compare-and-swap write per operation, which
// is the least any persisted, conflict-checked allocation can cost.

import { openStore } from "../src/store/index.js";
import type { Store } from "../src/store/types.js";
import { startEtcd } from "../src/store/testing/etcd.js";
import { startNetmaster, tempDir, sqliteUrl, waitForLeader } from "../test/harness/netmaster.js";
import { fmt, median, timedPool } from "./stats.js";

const CONCURRENCY = 8;
const NETWORKS = Number(process.env.BENCH_NETWORKS ?? 1000);
const ADDRESSES = Number(process.env.BENCH_ADDRESSES ?? 10_000);
const RULES = Number(process.env.BENCH_RULES ?? 1000);

interface Row {
  store: string;
  what: string;
  count: number;
  perSecond: number;
  medianMs: number;
  baselineRatio: number;
}

async function storeBaseline(url: string, count: number): Promise<{ perSecond: number; medianMs: number }> {
  const store: Store = await openStore(url);
  try {
    const items = Array.from({ length: count }, (_, i) => i);
    const start = performance.now();
    const durations = await timedPool(items, CONCURRENCY, async (i) => {
      const key = `/bench-baseline/${i}`;
      await store.txn([{ key, target: "modRevision", equals: 0 }], [{ type: "put", key, value: JSON.stringify({ i }) }]);
    });
    return { perSecond: count / ((performance.now() - start) / 1000), medianMs: median(durations) };
  } finally {
    await store.close();
  }
}

async function measure(what: string, count: number, fn: (i: number) => Promise<void>) {
  const items = Array.from({ length: count }, (_, i) => i);
  const start = performance.now();
  const durations = await timedPool(items, CONCURRENCY, fn);
  return { what, count, perSecond: count / ((performance.now() - start) / 1000), medianMs: median(durations), durations };
}

async function must(p: Promise<{ status: number; text: string }>): Promise<void> {
  const r = await p;
  if (r.status !== 200) throw new Error(`${r.status}: ${r.text}`);
}

async function benchStore(name: string, url: string): Promise<Row[]> {
  const baseline = await storeBaseline(url, 1000);
  const nm = await startNetmaster({ store: url });
  try {
    await waitForLeader(nm);
    const api = nm.api();
    const results = [];

    results.push(
      await measure("create network", NETWORKS, (i) =>
        must(api.post(`/api/v1/networks/default:n${i}/`, {
          tenantName: "default", networkName: `n${i}`, encap: "vxlan",
          subnet: `10.${100 + (i >> 8)}.${i & 255}.0/24`,
        })),
      ),
    );

    await must(api.post("/api/v1/networks/default:big/", {
      tenantName: "default", networkName: "big", encap: "vxlan", subnet: "198.18.0.0/16",
    }));
    const alloc = await measure("allocate address in a /16", ADDRESSES, (i) =>
      must(api.post("/api/v1/agent/endpoints/", { tenantName: "default", networkName: "big", containerID: `c${i}`, host: "h" })),
    );
    results.push(alloc);
    const slice = Math.min(1000, Math.floor(ADDRESSES / 2));
    const first = alloc.durations.slice(0, slice);
    const last = alloc.durations.slice(-slice);
    results.push({ what: `  first ${slice} addresses`, count: slice, perSecond: 1000 / median(first) * CONCURRENCY, medianMs: median(first), durations: first });
    results.push({ what: `  last ${slice} addresses`, count: slice, perSecond: 1000 / median(last) * CONCURRENCY, medianMs: median(last), durations: last });

    await must(api.post("/api/v1/policys/default:p/", { tenantName: "default", policyName: "p" }));
    results.push(
      await measure("add rule", RULES, (i) =>
        must(api.post(`/api/v1/rules/default:p:r${i}/`, {
          tenantName: "default", policyName: "p", ruleId: `r${i}`, direction: "in", action: "allow",
          protocol: "tcp", port: 1 + i, priority: 1 + (i % 100),
        })),
      ),
    );
    return results.map((r) => ({
      store: name, what: r.what, count: r.count, perSecond: r.perSecond, medianMs: r.medianMs,
      baselineRatio: r.medianMs / baseline.medianMs,
    })).concat([{ store: name, what: "baseline: bare store CAS put", count: 1000, perSecond: baseline.perSecond, medianMs: baseline.medianMs, baselineRatio: 1 }]);
  } finally {
    await nm.stop();
  }
}

export async function benchControlPlane(): Promise<void> {
  const rows: Row[] = [];
  const dir = tempDir("netplugin-bench-");
  try {
    rows.push(...(await benchStore("sqlite", sqliteUrl(dir.path))));
  } finally {
    dir.remove();
  }
  const etcd = await startEtcd({ members: 1 });
  try {
    rows.push(...(await benchStore("etcd", etcd.url)));
  } finally {
    await etcd.stop();
  }
  console.log(`\ncontrol plane through netmaster's REST API, ${CONCURRENCY} clients in parallel`);
  console.log("(median latency per operation; ratio = median / median of a bare store CAS put, same run)\n");
  console.log(["store".padEnd(7), "operation".padEnd(30), "count".padStart(6), "ops/s".padStart(9), "median ms".padStart(10), "x store".padStart(8)].join("  "));
  for (const r of rows) {
    console.log([r.store.padEnd(7), r.what.padEnd(30), String(r.count).padStart(6), fmt(r.perSecond, 0).padStart(9), fmt(r.medianMs, 2).padStart(10), fmt(r.baselineRatio, 1).padStart(8)].join("  "));
  }
  for (const store of ["sqlite", "etcd"]) {
    const first = rows.find((r) => r.store === store && r.what.includes("first"));
    const last = rows.find((r) => r.store === store && r.what.includes("last"));
    if (first && last) console.log(`${store}: last/first thousand median latency ratio ${fmt(last.medianMs / first.medianMs, 2)} (1.0 = no slowdown as the /16 fills)`);
  }
}
