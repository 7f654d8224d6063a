// What authentication costs a request. One netmaster in this process (SQLite), served over HTTPS twice:
// once as deployed (each request's token verified, its holder looked up, its access rule checked) and once,
// the baseline, with every request taken for the admin without its token being looked at (the access rule
// still runs). The same requests, token header included, go to both, interleaved in rounds so that a noisy machine hurts both alike: creating
// networks as the admin, and reading one as an ops user of its tenant. Prints medians and ratios.

import { serve, type ServerType } from "@hono/node-server";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { NetmasterFetch } from "../src/lib/netmaster-fetch.js";
import { createAuthority, issueServing } from "../src/lib/pki.js";
import { createApp } from "../src/master/http.js";
import { InProcessNetmaster, TEST_ADMIN_PASSWORD } from "../src/master/testing/in-process.js";
import { fmt, median, timedPool } from "./stats.js";

const ROUNDS = Number(process.env.BENCH_AUTH_ROUNDS ?? 5);
// Creates stay well below the 4094 local VLANs networks take; reads are cheap, so more of them make a sample.
const CREATES_PER_ROUND = Number(process.env.BENCH_AUTH_CREATES ?? 200);
const READS_PER_ROUND = Number(process.env.BENCH_AUTH_READS ?? 2000);
const CONCURRENCY = 8;

async function listen(app: ReturnType<typeof createApp>, credentials: { cert: string; key: string }): Promise<{ server: ServerType; url: string }> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0, createServer: createHttpsServer, serverOptions: credentials }, (info: AddressInfo) =>
      resolve({ server, url: `https://127.0.0.1:${info.port}` }),
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
    servers.push(guarded.server, baseline.server);

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
    const workloads = [
      {
        what: "create network (admin)",
        run: (url: string, token: string) => {
          const i = made++;
          return call(url, "POST", `/api/v1/networks/default:n${i}/`, token, { tenantName: "default", networkName: `n${i}`, encap: "vxlan", subnet: `10.${100 + (i >> 8)}.${i & 255}.0/24` });
        },
        token: adminToken,
        count: CREATES_PER_ROUND,
      },
      { what: "get network (ops user)", run: (url: string, token: string) => call(url, "GET", "/api/v1/networks/default:read-me/", token), token: opsToken, count: READS_PER_ROUND },
    ];

    console.log("\n## What authentication costs a request (one netmaster, HTTPS, SQLite; token checked / not checked)\n");
    console.log(`| request | rounds × requests | with auth, req/s (median) | baseline, req/s (median) | rate ratio | median latency ratio |`);
    console.log(`|---|---|---|---|---|---|`);
    for (const w of workloads) {
      const rates = { auth: [] as number[], base: [] as number[] };
      const latencies = { auth: [] as number[], base: [] as number[] };
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate which goes first: the store grows and the machine's load drifts during a round.
        const order = round % 2 === 0 ? (["auth", "base"] as const) : (["base", "auth"] as const);
        for (const side of order) {
          const url = side === "auth" ? guarded.url : baseline.url;
          const start = performance.now();
          const durations = await timedPool(Array.from({ length: w.count }, (_, i) => i), CONCURRENCY, async () => void (await w.run(url, w.token)));
          rates[side].push(w.count / ((performance.now() - start) / 1000));
          latencies[side].push(median(durations));
        }
      }
      const authRate = median(rates.auth);
      const baseRate = median(rates.base);
      console.log(`| ${w.what} | ${ROUNDS} × ${w.count} | ${fmt(authRate, 0)} | ${fmt(baseRate, 0)} | ${fmt(authRate / baseRate, 2)} | ${fmt(median(latencies.auth) / median(latencies.base), 2)} |`);
    }
  } finally {
    for (const server of servers) server.close();
    await client.close();
    await nm.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchAuth();
