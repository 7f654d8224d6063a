// What authentication costs a request. One netmaster in this process (SQLite), its API built twice: as
// deployed (each request's token verified, its holder looked up, its access rule checked) and, the baseline,
// taking every request for the admin without looking at its token (the access rule still runs). The same
// requests, token header included, go to both, interleaved in rounds so that a noisy machine hurts both
// alike: creating networks as the admin, and reading one as an ops user of its tenant. Each is measured
// twice: over HTTPS with 8 in flight (what a client sees), and called in process one at a time (what the
// server spends, without the network's noise). A third copy of the deployed API, measured against the
// first, shows how far two identical servers measure apart on this machine. Prints medians and ratios.

import { serve, type ServerType } from "@hono/node-server";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { NetmasterFetch } from "../src/lib/netmaster-fetch.js";
import { createAuthority, issueServing } from "../src/lib/pki.js";
import { createApp } from "../src/master/http.js";
import { InProcessNetmaster, TEST_ADMIN_PASSWORD } from "../src/master/testing/in-process.js";
import { fmt, median, timedPool } from "./stats.js";

const ROUNDS = Number(process.env.BENCH_AUTH_ROUNDS ?? 7);
// Creates (two rows of them) stay below the 4094 local VLANs networks take; reads are cheap, so more of them make a sample.
const CREATES_PER_ROUND = Number(process.env.BENCH_AUTH_CREATES ?? 120);
const READS_PER_ROUND = Number(process.env.BENCH_AUTH_READS ?? 1500);
const CONCURRENCY = 8;

async function listen(app: ReturnType<typeof createApp>, credentials: { cert: string; key: string }): Promise<{ app: ReturnType<typeof createApp>; server: ServerType; url: string }> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0, createServer: createHttpsServer, serverOptions: credentials }, (info: AddressInfo) =>
      resolve({ app, server, url: `https://127.0.0.1:${info.port}` }),
    );
  });
}

export async function benchAuth(): Promise<void> {
  const nm = await InProcessNetmaster.start();
  const { master } = nm;
  const log = pino({ level: "silent" });
  const authority = await createAuthority({ commonName: "bench-auth CA" });
  const credentials = await issueServing(authority, ["127.0.0.1"]);
  const client = new NetmasterFetch({ ca: authority.cert });
  const servers: ServerType[] = [];
  try {
    const guarded = await listen(createApp(master, log), credentials);
    const baseline = await listen(createApp(master, log, { authenticate: async () => ({ kind: "user", name: "admin", admin: true, tenants: new Set() }) }), credentials);
    const control = await listen(createApp(master, log), credentials);
    servers.push(guarded.server, baseline.server, control.server);

    const call = async (url: string, method: string, path: string, token: string, body?: unknown): Promise<unknown> => {
      const res = await client.fetch(url + path, {
        method,
        headers: { "content-type": "application/json", ...(token ? { "x-auth-token": token } : {}) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    };
    const login = async (username: string, password: string) =>
      ((await call(guarded.url, "POST", "/api/v1/auth_proxy/login/", "", { username, password })) as { token: string }).token;
    const adminToken = await login("admin", TEST_ADMIN_PASSWORD);
    await call(guarded.url, "POST", "/api/v1/auth_proxy/local_users/", adminToken, { username: "bench-ops", password: "bench-ops-password" });
    await call(guarded.url, "POST", "/api/v1/auth_proxy/authorizations/", adminToken, { principalName: "bench-ops", local: true, role: "ops", tenantName: "default" });
    const opsToken = await login("bench-ops", "bench-ops-password");
    await call(guarded.url, "POST", "/api/v1/networks/default:read-me/", adminToken, { tenantName: "default", networkName: "read-me", encap: "vxlan", subnet: "198.18.0.0/24" });

    let made = 0;
    const nextNetwork = () => {
      const i = made++;
      return { path: `/api/v1/networks/default:n${i}/`, body: { tenantName: "default", networkName: `n${i}`, encap: "vxlan", subnet: `10.${100 + (i >> 8)}.${i & 255}.0/24` } };
    };
    const READ_PATH = "/api/v1/networks/default:read-me/";
    const overHttps = {
      create: (url: string) => {
        const n = nextNetwork();
        return call(url, "POST", n.path, adminToken, n.body);
      },
      read: (url: string) => call(url, "GET", READ_PATH, opsToken),
    };
    const inProcess = (app: ReturnType<typeof createApp>) => ({
      create: async () => {
        const n = nextNetwork();
        const res = await app.request(n.path, { method: "POST", headers: { "content-type": "application/json", "x-auth-token": adminToken }, body: JSON.stringify(n.body) });
        if (!res.ok) throw new Error(`POST ${n.path}: ${res.status} ${await res.text()}`);
      },
      read: async () => {
        const res = await app.request(READ_PATH, { headers: { "x-auth-token": opsToken } });
        if (!res.ok) throw new Error(`GET ${READ_PATH}: ${res.status} ${await res.text()}`);
        await res.text();
      },
    });
    const [checked, unchecked, again] = [inProcess(guarded.app), inProcess(baseline.app), inProcess(control.app)];

    type Row = { what: string; via: string; versus: string; count: number; concurrency: number; left: () => Promise<unknown>; right: () => Promise<unknown> };
    const rows: Row[] = [
      { what: "create network (admin)", via: "HTTPS", versus: "not checked", count: CREATES_PER_ROUND, concurrency: CONCURRENCY, left: () => overHttps.create(guarded.url), right: () => overHttps.create(baseline.url) },
      { what: "get network (ops user)", via: "HTTPS", versus: "not checked", count: READS_PER_ROUND, concurrency: CONCURRENCY, left: () => overHttps.read(guarded.url), right: () => overHttps.read(baseline.url) },
      { what: "get network (ops user)", via: "HTTPS", versus: "checked too (noise floor)", count: READS_PER_ROUND, concurrency: CONCURRENCY, left: () => overHttps.read(guarded.url), right: () => overHttps.read(control.url) },
      { what: "create network (admin)", via: "in process", versus: "not checked", count: CREATES_PER_ROUND, concurrency: 1, left: checked.create, right: unchecked.create },
      { what: "get network (ops user)", via: "in process", versus: "not checked", count: READS_PER_ROUND, concurrency: 1, left: checked.read, right: unchecked.read },
      { what: "get network (ops user)", via: "in process", versus: "checked too (noise floor)", count: READS_PER_ROUND, concurrency: 1, left: checked.read, right: again.read },
    ];

    console.log("\n## What authentication costs a request (one netmaster, SQLite; token checked / baseline)\n");
    console.log(`| request | via | baseline: token | rounds × requests | checked, req/s (median) | baseline, req/s (median) | rate ratio | median latency ratio |`);
    console.log(`|---|---|---|---|---|---|---|---|`);
    for (const row of rows) {
      const rates = { left: [] as number[], right: [] as number[] };
      const latencies = { left: [] as number[], right: [] as number[] };
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate which goes first: the store grows and the machine's load drifts during a round.
        const order = round % 2 === 0 ? (["left", "right"] as const) : (["right", "left"] as const);
        for (const side of order) {
          const start = performance.now();
          const durations = await timedPool(Array.from({ length: row.count }, (_, i) => i), row.concurrency, async () => void (await row[side]()));
          rates[side].push(row.count / ((performance.now() - start) / 1000));
          latencies[side].push(median(durations));
        }
      }
      const left = median(rates.left);
      const right = median(rates.right);
      console.log(`| ${row.what} | ${row.via} | ${row.versus} | ${ROUNDS} × ${row.count} | ${fmt(left, 0)} | ${fmt(right, 0)} | ${fmt(left / right, 2)} | ${fmt(median(latencies.left) / median(latencies.right), 2)} |`);
    }
  } finally {
    for (const server of servers) server.close();
    await client.close();
    await nm.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchAuth();
