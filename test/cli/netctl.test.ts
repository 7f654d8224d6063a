// netctl against a real netmaster: the commands users type, their output and exit codes.

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { run as runCommand, type RunResult } from "../../src/lib/process.js";
import { startNetmaster, tempDir, sqliteUrl, waitForLeader, type NetmasterProcess } from "../harness/netmaster.js";
import { freePort } from "../harness/ports.js";

const NETCTL_JS = fileURLToPath(new URL("../../src/bin/netctl.js", import.meta.url));

/** netctl against `netmaster`, trusting its CA through $NETMASTER_CA_FILE (none for http://), as its admin ($NETMASTER_TOKEN). */
async function netctl(netmaster: { url: string; caFile?: string; adminToken?: () => Promise<string> }, ...args: string[]): Promise<RunResult> {
  const { NETMASTER_CA_FILE: _, INSECURE: __, NETMASTER_TOKEN: ___, ...env } = process.env;
  const trust = netmaster.caFile ? { NETMASTER_CA_FILE: netmaster.caFile } : {};
  const token = netmaster.adminToken ? { NETMASTER_TOKEN: await netmaster.adminToken() } : {};
  return runCommand([process.execPath, NETCTL_JS, ...args], { env: { ...env, NETMASTER: netmaster.url, ...trust, ...token } });
}

describe("netctl against netmaster", () => {
  let nm: NetmasterProcess;
  const dir = tempDir();
  let run: (...args: string[]) => Promise<RunResult>;

  before(async () => {
    nm = await startNetmaster({ store: sqliteUrl(dir.path) });
    await waitForLeader(nm);
    run = (...args) => netctl(nm, ...args);
  });
  after(async () => {
    await nm?.stop();
    dir.remove();
  });

  test("tenant, network, group, policy and rules round trip", async () => {
    assert.equal((await run("tenant", "create", "blue")).stdout, "Creating tenant: blue\n");
    const net = await run("net", "create", "-t", "blue", "-s", "198.18.5.0/24", "-g", "198.18.5.254", "-s6", "fd00:5::/64", "n1");
    assert.equal(net.code, 0, net.stderr);
    assert.deepEqual((await run("net", "ls", "-t", "blue", "-q")).stdout.trim().split("\n"), ["n1"]);
    const ls = await run("net", "ls", "-t", "blue");
    assert.match(ls.stdout, /^Tenant +Network +Nw Type/);
    assert.match(ls.stdout, /blue +n1 +data +vxlan +0 +198\.18\.5\.0\/24 +198\.18\.5\.254 +fd00:5::\/64/);

    assert.equal((await run("policy", "create", "-t", "blue", "p")).code, 0);
    assert.equal((await run("policy", "rule-add", "-t", "blue", "-d", "in", "-l", "tcp", "-j", "deny", "-p", "1", "p", "1")).code, 0);
    assert.equal((await run("policy", "rule-add", "-t", "blue", "-d", "in", "-l", "tcp", "-P", "80", "-j", "allow", "-p", "100", "p", "2")).code, 0);
    const rules = await run("policy", "rule-ls", "-t", "blue", "p");
    const lines = rules.stdout.split("\n");
    assert.equal(lines[0], "Incoming Rules:");
    assert.match(lines[3]!, /^1 +1 +tcp +0 +deny$/);
    assert.match(lines[4]!, /^2 +100 +tcp +80 +allow$/);

    assert.equal((await run("group", "create", "-t", "blue", "-p", "p", "-r", "198.18.5.10-198.18.5.20", "n1", "web")).code, 0);
    const inspect = await run("group", "inspect", "-t", "blue", "web");
    const body = JSON.parse(inspect.stdout) as { Config: { policies: string[] }; Oper: { availableIPAddresses: string } };
    assert.deepEqual(body.Config.policies, ["p"]);
    assert.equal(body.Oper.availableIPAddresses, "198.18.5.10-198.18.5.20");

    const json = JSON.parse((await run("group", "ls", "-t", "blue", "-j")).stdout) as { groupName: string }[];
    assert.deepEqual(json.map((g) => g.groupName), ["web"]);
  });

  test("server refusals print the message and exit 3", async () => {
    const overlap = await run("net", "create", "-t", "blue", "-s", "198.18.5.128/25", "n2");
    assert.equal(overlap.code, 3);
    assert.match(overlap.stderr, /network n1 conflicts with subnet 198\.18\.5\.128\/25/);
    const busy = await run("tenant", "rm", "blue");
    assert.equal(busy.code, 3);
    assert.match(busy.stderr, /cannot delete blue has 1 endpoint groups/);
    const missing = await run("group", "inspect", "-t", "blue", "nope");
    assert.equal(missing.code, 3);
  });

  test("usage errors exit 1 before any request", async () => {
    const noSubnet = await run("net", "create", "-t", "blue", "n3");
    assert.equal(noSubnet.code, 1);
    assert.match(noSubnet.stderr, /Subnet is required/);
    const badGw = await run("net", "create", "-t", "blue", "-s", "198.18.6.0/24", "-g", "nope", "n3");
    assert.equal(badGw.code, 1);
    assert.match(badGw.stderr, /Invalid gateway - Enter in A.B.C.D format/);
  });

  test("an unreachable netmaster is reported, not a crash", async () => {
    const port = await freePort();
    const r = await netctl({ url: `http://127.0.0.1:${port}` }, "tenant", "ls");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error connecting to netmaster/);
    const v = await netctl({ url: `http://127.0.0.1:${port}` }, "version");
    assert.equal(v.code, 2);
  });
});

describe("netctl and netmaster's TLS", () => {
  let nm: NetmasterProcess;
  const dir = tempDir();

  before(async () => {
    nm = await startNetmaster({ store: sqliteUrl(dir.path) });
    await waitForLeader(nm);
  });
  after(async () => {
    await nm?.stop();
    dir.remove();
  });

  test("trusts netmaster's generated CA from --ca-file or $NETMASTER_CA_FILE", async () => {
    assert.match(nm.url, /^https:/);
    for (const r of [await netctl(nm, "tenant", "ls", "-q"), await netctl({ url: nm.url, adminToken: nm.adminToken }, "--ca-file", nm.caFile, "tenant", "ls", "-q")]) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "default\n");
    }
  });

  test("without the CA, the certificate is refused and the message says where the CA is", async () => {
    const r = await netctl({ url: nm.url, adminToken: nm.adminToken }, "tenant", "ls");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: Error connecting to netmaster: GET https:.*certificate.*\(netmaster's CA is \/var\/lib\/netplugin\/ca\.crt on its host: pass a copy with --ca-file/);
    assert.equal((await netctl({ url: nm.url, adminToken: nm.adminToken }, "--insecure", "tenant", "ls", "-q")).code, 0);
  });

  test("another CA is refused, naming the file; a CA file that cannot be used exits 4", async () => {
    const other = await startNetmaster({ store: sqliteUrl(join(dir.path, "other")) });
    try {
      const r = await netctl({ url: nm.url, adminToken: nm.adminToken }, "--ca-file", other.caFile, "tenant", "ls");
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`certificate.*\\(verified against the CA in ${other.caFile.replace(/[.]/g, "\\.")}\\)\n$`));
    } finally {
      await other.stop();
    }
    const missing = await netctl({ url: nm.url, caFile: join(dir.path, "missing.crt") }, "tenant", "ls");
    assert.equal(missing.code, 4);
    assert.match(missing.stderr, /^Error: Cannot use CA file ".*missing\.crt": ENOENT/);
  });

  test("plain HTTP works against --plain-http on loopback", async () => {
    const plain = await startNetmaster({ store: sqliteUrl(join(dir.path, "plain")), args: ["--plain-http"] });
    try {
      assert.match(plain.url, /^http:/);
      const r = await netctl(plain, "tenant", "ls", "-q");
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await plain.stop();
    }
  });
});

describe("netctl host against netmaster", () => {
  let nm: NetmasterProcess;
  const dir = tempDir();
  let run: (...args: string[]) => Promise<RunResult>;
  const call = (method: string, path: string, body: unknown) =>
    nm.fetch(path, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then(async (r) => {
      assert.equal(r.status, 200, await r.clone().text());
      return r.json() as Promise<unknown>;
    });

  before(async () => {
    nm = await startNetmaster({ store: sqliteUrl(dir.path) });
    await waitForLeader(nm);
    run = (...args) => netctl(nm, ...args);
    await call("POST", "/api/v1/networks/default:n/", { tenantName: "default", networkName: "n", encap: "vxlan", subnet: "198.18.7.0/24" });
    await call("PUT", "/api/v1/agent/hosts/dead/", { vtepIP: "198.18.0.2" });
    await call("PUT", "/api/v1/agent/hosts/live/", { vtepIP: "198.18.0.3" });
    for (const [c, host] of [["c1", "dead"], ["c2", "dead"], ["c3", "live"]]) {
      await call("POST", "/api/v1/agent/endpoints/", { tenantName: "default", networkName: "n", containerID: c, host });
    }
    await call("PUT", "/api/v1/agent/hosts/live/realized", { revision: 0, epoch: "", failures: [] });
  });
  after(async () => {
    await nm?.stop();
    dir.remove();
  });

  test("ls shows each host, its endpoints and when its agent last reported", async () => {
    const ls = await run("host", "ls");
    assert.equal(ls.code, 0, ls.stderr);
    const lines = ls.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^Name +VTEP +Endpoints +Last report \(s ago\)$/);
    assert.match(lines[2]!, /^dead +198\.18\.0\.2 +2 +-$/);
    assert.match(lines[3]!, /^live +198\.18\.0\.3 +1 +\d+$/);
    assert.equal(lines.length, 4);
    assert.equal((await run("host", "ls", "-q")).stdout, "dead\nlive\n");
  });

  test("rm removes a dead host with its endpoints; a reporting one only with --force", async () => {
    const dead = await run("host", "rm", "dead");
    assert.equal(dead.code, 0, dead.stderr);
    assert.equal(dead.stdout, "Deleting host dead\nReleased endpoints: n.default-c1, n.default-c2\n");

    const live = await run("host", "rm", "live");
    assert.equal(live.code, 3);
    assert.match(live.stderr, /^Error: Cannot remove host live: its agent reported \d+ s ago; .*--force\n$/);
    assert.equal((await run("host", "ls", "-q")).stdout, "live\n", "the refusal changed nothing");

    const forced = await run("host", "rm", "--force", "live");
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(forced.stdout, "Deleting host live\nReleased endpoints: n.default-c3\n");
    assert.equal((await run("host", "ls", "-q")).stdout, "");

    const again = await run("host", "rm", "live");
    assert.equal(again.code, 3);
    assert.equal(again.stderr, "Error: Host live not found\n");
  });
});

for (const mode of ["http", "contiv"]) {
  describe(`netctl shows the server's message with --error-status ${mode}`, () => {
    let nm: NetmasterProcess;
    const dir = tempDir();
    let run: (...args: string[]) => Promise<RunResult>;

    before(async () => {
      nm = await startNetmaster({ store: sqliteUrl(dir.path), args: ["--error-status", mode] });
      await waitForLeader(nm);
      run = (...args) => netctl(nm, ...args);
      assert.equal((await run("net", "create", "-s", "198.18.8.0/24", "n1")).code, 0);
    });
    after(async () => {
      await nm?.stop();
      dir.remove();
    });

    const refusals: [args: string[], stderr: string | RegExp][] = [
      [["net", "rm", "nosuch"], "Error: network not found\n"],
      [["net", "inspect", "nosuch"], "Error: network not found\n"],
      [["net", "create", "-s", "198.18.8.128/25", "n2"], "Error: network n1 conflicts with subnet 198.18.8.128/25\n"],
      [["tenant", "create", "bad_name"], /^Error: .*tenantName/],
      [["host", "rm", "nosuch"], "Error: Host nosuch not found\n"],
    ];
    for (const [args, stderr] of refusals) {
      test(`netctl ${args.join(" ")} exits 3 with the message`, async () => {
        const r = await run(...args);
        assert.equal(r.code, 3, r.stderr);
        if (typeof stderr === "string") assert.equal(r.stderr, stderr);
        else assert.match(r.stderr, stderr);
      });
    }
  });
}
