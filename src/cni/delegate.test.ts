// Delegated IPAM: the order of calls and the undo (runDelegated with scripted stand-ins), then the
// executable running Debian's real host-local and static against the fake agent.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import { runDelegated, type DelegateOutcome, type DelegatedCommand, type ExecPluginOptions } from "./delegate.js";
import { startFakeAgent, type FakeAgent } from "./testing/fakeAgent.js";
import { runCni } from "./testing/runCni.js";

const DEBIAN_CNI = "/usr/lib/cni";

const IPAM_RESULT = { cniVersion: "1.0.0", ips: [{ address: "198.18.7.9/24", gateway: "198.18.7.1" }] };
const ENV = { CNI_CONTAINERID: "c1", CNI_IFNAME: "eth0", CNI_NETNS: "/run/netns/x", CNI_PATH: "/opt/cni/bin" };

/** A scripted run: what the IPAM plugin and the agent answer, and the log of who was called with what. */
function script(
  plugin: Partial<Record<DelegatedCommand, DelegateOutcome>>,
  agent: DelegateOutcome | DelegateOutcome[],
  command: DelegatedCommand,
  cniVersion = "1.0.0",
  type = "host-local",
) {
  const log: string[] = [];
  // One answer for every call, or the answers in call order.
  const answers = Array.isArray(agent) ? [...agent] : undefined;
  const run = runDelegated({
    command,
    ipam: { type },
    cniVersion,
    env: { ...ENV, CNI_COMMAND: command },
    stdin: "{}",
    findPlugin: (type, cniPath) => (log.push(`find ${type} in ${cniPath}`), `/opt/cni/bin/${type}`),
    exec: async (o: ExecPluginOptions) => {
      log.push(`ipam ${o.command}`);
      return plugin[o.command] ?? { ok: true, result: null };
    },
    callAgent: async (r) => {
      log.push(`agent${r?.command ? ` ${r.command}` : ""}${r?.pending ? " pending" : ""}${r?.ipamResult ? ` with ${JSON.stringify(r.ipamResult["ips"])}` : ""}`);
      return answers ? (answers.shift() ?? OK) : (agent as DelegateOutcome);
    },
  });
  return { run, log };
}

const OK: DelegateOutcome = { ok: true, result: null };
const REFUSED: DelegateOutcome = { ok: false, error: { code: 104, msg: "Cannot register: outside the subnet" } };

describe("runDelegated", () => {
  it("ADD: the IPAM plugin first, its result to the agent, the agent's result back", async () => {
    const agentResult = { cniVersion: "1.0.0", ips: [{ address: "198.18.7.9/24" }] };
    const { run, log } = script({ ADD: { ok: true, result: IPAM_RESULT } }, { ok: true, result: agentResult }, "ADD");
    assert.deepEqual(await run, { ok: true, result: agentResult });
    assert.deepEqual(log, ["find host-local in /opt/cni/bin", "ipam ADD", `agent with ${JSON.stringify(IPAM_RESULT.ips)}`]);
  });

  it("ADD refused by the agent: the IPAM plugin's DEL undoes the reservation and the error says so", async () => {
    const { run, log } = script({ ADD: { ok: true, result: IPAM_RESULT } }, REFUSED, "ADD");
    const out = await run;
    assert.equal(out.ok, false);
    assert.equal(!out.ok && out.error.code, 104);
    assert.match(!out.ok ? out.error.msg : "", /outside the subnet; the IPAM reservation was released$/);
    assert.deepEqual(log.slice(1), ["ipam ADD", `agent with ${JSON.stringify(IPAM_RESULT.ips)}`, "ipam DEL"]);
  });

  it("ADD refused and the undo failing: both in the message", async () => {
    const { run } = script({ ADD: { ok: true, result: IPAM_RESULT }, DEL: { ok: false, error: { code: 11, msg: "store locked" } } }, REFUSED, "ADD");
    const out = await run;
    assert.match(!out.ok ? out.error.msg : "", /outside the subnet; releasing the IPAM reservation failed too: store locked$/);
  });

  it("a second ADD of an attached container keeps the reservation (it is the running one's)", async () => {
    const { run, log } = script({ ADD: { ok: true, result: IPAM_RESULT } }, { ...REFUSED, keepDelegation: true }, "ADD");
    assert.equal((await run).ok, false);
    assert.ok(!log.includes("ipam DEL"), log.join(", "));
  });

  it("ADD with a plugin that leases on the interface (dhcp): the interface first, then the lease, then the address", async () => {
    const { run, log } = script({ ADD: { ok: true, result: IPAM_RESULT } }, [OK, { ok: true, result: IPAM_RESULT }], "ADD", "1.0.0", "dhcp");
    assert.deepEqual(await run, { ok: true, result: IPAM_RESULT });
    assert.deepEqual(log.slice(1), ["agent pending", "ipam ADD", `agent with ${JSON.stringify(IPAM_RESULT.ips)}`]);
  });

  it("dhcp: no lease removes the interface; a refused address releases the lease and removes the interface", async () => {
    const noLease = script({ ADD: { ok: false, error: { code: 11, msg: "no DHCP offer" } } }, OK, "ADD", "1.0.0", "dhcp");
    const out = await noLease.run;
    assert.match(!out.ok ? out.error.msg : "", /no DHCP offer; the interface was removed$/);
    assert.deepEqual(noLease.log.slice(1), ["agent pending", "ipam ADD", "agent DEL"]);

    const refused = script({ ADD: { ok: true, result: IPAM_RESULT } }, [OK, { ...REFUSED, keepDelegation: true }], "ADD", "1.0.0", "dhcp");
    const out2 = await refused.run;
    assert.match(!out2.ok ? out2.error.msg : "", /outside the subnet; the IPAM reservation was released; the interface was removed$/);
    assert.deepEqual(refused.log.slice(1), ["agent pending", "ipam ADD", `agent with ${JSON.stringify(IPAM_RESULT.ips)}`, "ipam DEL", "agent DEL"]);

    const plumbing = script({}, REFUSED, "ADD", "1.0.0", "dhcp");
    assert.equal((await plumbing.run).ok, false);
    assert.deepEqual(plumbing.log.slice(1), ["agent pending"], "nothing leased when the interface cannot be made");
  });

  it("dhcp DEL: the lease is released before the agent removes the interface it leaves from", async () => {
    const { run, log } = script({}, OK, "DEL", "1.0.0", "dhcp");
    assert.deepEqual(await run, OK);
    assert.deepEqual(log.slice(1), ["ipam DEL", "agent"]);
    const failed = script({ DEL: { ok: false, error: { code: 11, msg: "daemon gone" } } }, OK, "DEL", "1.0.0", "dhcp");
    assert.equal((await failed.run).ok, false);
    assert.deepEqual(failed.log.slice(1), ["ipam DEL"], "the interface stays for the runtime's retry");
  });

  it("ADD failing in the IPAM plugin never reaches the agent", async () => {
    const { run, log } = script({ ADD: { ok: false, error: { code: 7, msg: "no free address" } } }, OK, "ADD");
    assert.deepEqual(await run, { ok: false, error: { code: 7, msg: "no free address" } });
    assert.ok(!log.some((l) => l.startsWith("agent")));
  });

  it("ADD with bad CNI_* values goes to the agent (which names them) and runs no IPAM plugin", async () => {
    const log: string[] = [];
    const out = await runDelegated({
      command: "ADD",
      ipam: { type: "host-local" },
      cniVersion: "1.0.0",
      env: { ...ENV, CNI_CONTAINERID: "../../etc" },
      stdin: "{}",
      exec: async () => (log.push("ipam"), OK),
      callAgent: async (r) => (log.push(`agent ${r === undefined}`), { ok: false, error: { code: 4, msg: "CNI_CONTAINERID" } }),
    });
    assert.equal(!out.ok && out.error.code, 4);
    assert.deepEqual(log, ["agent true"]);
  });

  it("a plugin missing from CNI_PATH is code 4 naming CNI_PATH", async () => {
    const out = await runDelegated({
      command: "ADD",
      ipam: { type: "host-local" },
      cniVersion: "1.0.0",
      env: ENV,
      stdin: "{}",
      findPlugin: () => undefined,
      callAgent: async () => OK,
    });
    assert.deepEqual(out, { ok: false, error: { code: 4, msg: 'Cannot ADD: IPAM plugin "host-local" is not in CNI_PATH "/opt/cni/bin"' } });
  });

  it("DEL: the agent first, then the IPAM plugin; a failed agent DEL keeps the reservation", async () => {
    const ok = script({}, OK, "DEL");
    assert.deepEqual(await ok.run, OK);
    assert.deepEqual(ok.log, ["agent", "find host-local in /opt/cni/bin", "ipam DEL"]);
    const failed = script({}, { ok: false, error: { code: 11, msg: "agent down" } }, "DEL");
    assert.equal((await failed.run).ok, false);
    assert.deepEqual(failed.log, ["agent"]);
  });

  it("CHECK: the agent, then the IPAM plugin, whose failure is the answer", async () => {
    const { run, log } = script({ CHECK: { ok: false, error: { code: 3, msg: "no reservation" } } }, OK, "CHECK");
    assert.deepEqual(await run, { ok: false, error: { code: 3, msg: "no reservation" } });
    assert.deepEqual(log, ["agent", "find host-local in /opt/cni/bin", "ipam CHECK"]);
  });

  it("STATUS and GC reach the IPAM plugin only in cniVersion 1.1.0, which has them", async () => {
    for (const command of ["STATUS", "GC"] as const) {
      const old = script({}, OK, command, "1.0.0");
      await old.run;
      assert.deepEqual(old.log, ["agent"]);
      const v11 = script({}, OK, command, "1.1.0");
      await v11.run;
      assert.deepEqual(v11.log, ["agent", "find host-local in /opt/cni/bin", `ipam ${command}`]);
    }
  });
});

describe("the executable with Debian's IPAM plugins", { skip: existsSync(`${DEBIAN_CNI}/host-local`) ? false : `no ${DEBIAN_CNI}/host-local (containernetworking-plugins)` }, () => {
  let fake: FakeAgent;
  let dataDir: string;
  const agentResult = (ip: string) => ({ cniVersion: "1.0.0", interfaces: [{ name: "eth0", mac: "02:02:c6:12:07:09", sandbox: "/run/netns/x" }], ips: [{ address: ip, interface: 0 }] });
  const env = (command: string, id = "ctr1") => ({ CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: "/run/netns/x", CNI_IFNAME: "eth0", CNI_PATH: `/nonexistent:${DEBIAN_CNI}` });
  let config: Record<string, unknown>;

  before(async () => {
    fake = await startFakeAgent();
    dataDir = mkdtempSync(path.join(tmpdir(), "np-ipam-"));
    config = {
      cniVersion: "1.0.0",
      name: "blue",
      type: "netplugin",
      network: "blue-net",
      socket: fake.socket,
      ipam: { type: "host-local", dataDir, ranges: [[{ subnet: "198.18.7.0/24", rangeStart: "198.18.7.10", rangeEnd: "198.18.7.20" }]] },
    };
  });
  after(async () => {
    await fake.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const reserved = () => readdirSync(path.join(dataDir, "blue")).filter((f) => /^\d/.test(f)).sort();

  it("ADD runs host-local and sends its address to the agent; DEL releases it after the agent's DEL", async () => {
    fake.requests.length = 0;
    fake.handler = (req) => ((req.body as { command: string }).command === "ADD" ? { body: { result: agentResult("198.18.7.10/24") } } : { body: {} });
    const add = await runCni(env("ADD"), JSON.stringify(config));
    assert.equal(add.status, 0, add.stdout + add.stderr);
    assert.deepEqual(JSON.parse(add.stdout), agentResult("198.18.7.10/24"));
    const sent = fake.requests[0]!.body as { ipamResult: { ips: { address: string }[] } };
    assert.equal(sent.ipamResult.ips[0]!.address, "198.18.7.10/24");
    assert.deepEqual(reserved(), ["198.18.7.10"]);

    const del = await runCni(env("DEL"), JSON.stringify(config));
    assert.equal(del.status, 0, del.stdout + del.stderr);
    assert.deepEqual(reserved(), []);
    const again = await runCni(env("DEL"), JSON.stringify(config));
    assert.equal(again.status, 0, `a second DEL finds nothing and succeeds: ${again.stdout}`);
  });

  it("ADD refused by the agent leaves no host-local reservation", async () => {
    fake.handler = () => ({ body: { error: { code: 104, msg: "Cannot register the address: outside the subnet" } } });
    const add = await runCni(env("ADD", "ctr2"), JSON.stringify(config));
    assert.equal(add.status, 1);
    const err = JSON.parse(add.stdout) as { code: number; msg: string };
    assert.equal(err.code, 104);
    assert.match(err.msg, /outside the subnet; the IPAM reservation was released$/);
    assert.deepEqual(reserved(), []);
  });

  it("a second ADD refused with keepDelegation keeps the running container's reservation", async () => {
    fake.handler = () => ({ body: { result: agentResult("198.18.7.10/24") } });
    assert.equal((await runCni(env("ADD", "ctr3"), JSON.stringify(config))).status, 0);
    const held = reserved();
    assert.equal(held.length, 1);
    fake.handler = () => ({ body: { error: { code: 103, msg: "already has interface eth0" }, keepDelegation: true } });
    assert.equal((await runCni(env("ADD", "ctr3"), JSON.stringify(config))).status, 1);
    assert.deepEqual(reserved(), held);
    fake.handler = () => ({ body: {} });
    assert.equal((await runCni(env("DEL", "ctr3"), JSON.stringify(config))).status, 0);
    assert.deepEqual(reserved(), []);
  });

  it("static: the address of the ipam section (or CNI_ARGS IP) goes to the agent", async () => {
    fake.requests.length = 0;
    fake.handler = () => ({ body: { result: agentResult("198.18.7.77/24") } });
    const conf = { ...config, ipam: { type: "static", addresses: [{ address: "198.18.7.77/24" }] } };
    const add = await runCni(env("ADD", "ctr4"), JSON.stringify(conf));
    assert.equal(add.status, 0, add.stdout + add.stderr);
    assert.equal((fake.requests[0]!.body as { ipamResult: { ips: { address: string }[] } }).ipamResult.ips[0]!.address, "198.18.7.77/24");
    fake.handler = () => ({ body: {} });
    assert.equal((await runCni(env("DEL", "ctr4"), JSON.stringify(conf))).status, 0, "static's DEL has nothing to release");
  });

  it("an IPAM plugin's own error passes through with its code, and nothing reaches the agent", async () => {
    fake.requests.length = 0;
    const conf = { ...config, ipam: { type: "host-local", dataDir, ranges: [[{ subnet: "not-a-subnet" }]] } };
    const add = await runCni(env("ADD", "ctr5"), JSON.stringify(conf));
    assert.equal(add.status, 1);
    const err = JSON.parse(add.stdout) as { code: number; msg: string };
    assert.match(err.msg, /^Cannot ADD: IPAM plugin "host-local" failed: /);
    assert.equal(fake.requests.length, 0);
  });

  it("a bad ipam type is refused before anything runs", async () => {
    fake.requests.length = 0;
    const add = await runCni(env("ADD", "ctr6"), JSON.stringify({ ...config, ipam: { type: "../host-local" } }));
    assert.equal(add.status, 1);
    assert.equal((JSON.parse(add.stdout) as { code: number }).code, 7);
    assert.equal(fake.requests.length, 0);
  });
});
