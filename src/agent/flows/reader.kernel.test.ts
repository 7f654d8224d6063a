// A reader on a real kernel (root; skipped otherwise): a namespace this test makes, a compiled policy with the
// flow log loaded into it, TCP connects on its loopback; the reader must see the denied attempt stamped with its
// rule, the allowed one when asked, every record of a flood up to the table's rate limit, and be gone (its PID) when stopped.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { compilePolicy, FLOW_LOG_GROUP, ruleCounters } from "../../policy/index.js";
import { Netns, kernelSkipReason } from "../../policy/testing/netns.js";
import type { PolicyInput } from "../../policy/index.js";
import { FlowReader } from "./reader.js";
import type { FlowPacket } from "./nflog.js";

const input: PolicyInput = {
  fwdMode: "routing",
  networks: [],
  groups: [{ id: 1, name: "local", ipv4: ["127.0.0.1"], ipv6: [], dscp: 0 }],
  rules: [{ key: "t:pol:no-9001", groupId: 1, direction: "in", priority: 5, action: "deny", protocol: 6, port: 9001 }],
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe("flow reader in the kernel", { skip: kernelSkipReason() ?? (existsSync("/usr/bin/tcpdump") ? undefined : "needs tcpdump") }, () => {
  let ns: Netns | undefined;
  let reader: FlowReader | undefined;
  const seen: { packet: FlowPacket; prefix: string }[] = [];
  before(async () => {
    ns = await Netns.create();
    reader = new FlowReader({ namespace: ns.name, group: FLOW_LOG_GROUP, log: pino({ level: "silent" }), onPacket: (packet, prefix) => seen.push({ packet, prefix }) });
    reader.start();
    await sleep(500); // tcpdump binds the group
  });
  after(async () => {
    await reader?.stop();
    await ns?.delete();
  });

  const connect = (port: number) => ns!.exec(["bash", "-c", `timeout 0.3 bash -c 'echo > /dev/tcp/127.0.0.1/${port}' || true`]);

  it("sees a denied attempt with its rule, and no allowed one unless asked", async () => {
    await ns!.nft(compilePolicy({ ...input, flowLog: { group: FLOW_LOG_GROUP, allowed: false, ratePerSecond: 50 } }).script);
    await connect(9001);
    await connect(9002);
    await until("the denied attempt", () => seen.some((s) => s.prefix === "D pol:no-9001"));
    await sleep(300);
    assert.deepEqual(seen[0]!.packet, { src: "127.0.0.1", dst: "127.0.0.1", proto: 6, dport: 9001 });
    assert.ok(!seen.some((s) => s.prefix === "A"));
  });

  it("sees allowed attempts when asked", async () => {
    await ns!.nft(compilePolicy({ ...input, flowLog: { group: FLOW_LOG_GROUP, allowed: true, ratePerSecond: 50 } }).script);
    await connect(9002);
    await until("the allowed attempt", () => seen.some((s) => s.prefix === "A" && s.packet.dport === 9002));
  });

  it("reads every record of a flood the rate limit lets through, and no more", async () => {
    const compiled = compilePolicy({ ...input, flowLog: { group: FLOW_LOG_GROUP, allowed: false, ratePerSecond: 100 } });
    await ns!.nft(compiled.script);
    seen.length = 0;
    // Non-blocking connects to the denied port for 2 s: each SYN a new attempt, tens of thousands of them.
    const flood = "import socket,time\nend=time.time()+2\nss=[]\nwhile time.time()<end:\n s=socket.socket(); s.setblocking(False)\n try: s.connect(('127.0.0.1',9001))\n except BlockingIOError: pass\n ss.append(s)\n if len(ss)>=200:\n  [x.close() for x in ss]; ss=[]\n";
    await ns!.exec(["python3", "-c", flood]);
    await sleep(500);
    const dropped = ruleCounters(await ns!.exec(["nft", "-j", "list", "table", "inet", "netplugin"]), compiled).get("t:pol:no-9001")!.packets;
    // The burst (100) and 100 a second over about 2 s, of far more dropped; each one read whole (no -s: see reader.ts).
    assert.ok(dropped >= 1000, `dropped ${dropped}`);
    assert.ok(seen.length >= 250 && seen.length <= 330, `read ${seen.length} of ${dropped}`);
    assert.ok(seen.every((s) => s.prefix === "D pol:no-9001" && s.packet.dport === 9001));
    assert.equal(reader!.malformed, 0);
  });

  it("stops its process, by PID", async () => {
    const pid = reader!.pid!;
    assert.match(readFileSync(`/proc/${pid}/comm`, "utf8"), /tcpdump/);
    await reader!.stop();
    assert.equal(existsSync(`/proc/${pid}`), false);
  });
});
