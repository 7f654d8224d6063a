// The CNI executable end to end: a child process with CNI_* env and stdin, against fakeAgent.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";

import { startFakeAgent, type FakeAgent } from "./testing/fakeAgent.js";
import { runCni, type Run } from "./testing/runCni.js";
import { MAX_CONFIG_BYTES } from "./wire.js";


/** The printed document, checking stdout holds exactly one JSON value. */
function printed(run: Run): Record<string, unknown> {
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

const RESULT = {
  cniVersion: "1.0.0",
  interfaces: [{ name: "eth0", mac: "02:02:c6:12:05:02", sandbox: "/run/netns/netns-1" }],
  ips: [{ interface: 0, address: "198.18.5.2/24", gateway: "198.18.5.1" }],
  routes: [{ dst: "0.0.0.0/0", gw: "198.18.5.1" }],
  dns: {},
};

describe("netplugin-cni executable", () => {
  let fake: FakeAgent;
  let config: Record<string, unknown>;
  let configText: string;
  const env = {
    CNI_COMMAND: "ADD",
    CNI_CONTAINERID: "3f6940ab5ab43bc522569d15b23f8c1bbde1d7678b080398506924fc01d72755",
    CNI_NETNS: "/run/netns/netns-1",
    CNI_IFNAME: "eth0",
    CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAME=pc1;MAC=02:00:c6:12:d5:32;IP=198.18.213.50",
    CNI_PATH: "/opt/cni/bin:/usr/lib/cni",
  };

  before(async () => {
    fake = await startFakeAgent();
    config = {
      cniVersion: "1.0.0",
      name: "blue",
      type: "netplugin",
      network: "blue-net",
      socket: fake.socket,
      runtimeConfig: { portMappings: [{ hostPort: 18081, containerPort: 80, protocol: "tcp", hostIP: "127.0.0.1" }] },
      big: 12345678901234567890,
    };
    // As podman writes it: keys sorted, pretty-printed. Numbers are forwarded as written.
    configText = JSON.stringify(config, Object.keys(config).sort(), 2).replace("12345678901234567000", "12345678901234567890");
  });
  after(async () => {
    await fake.close();
  });

  it("forwards ADD exactly and prints the agent's result", async () => {
    fake.requests.length = 0;
    fake.handler = () => ({ body: { result: RESULT } });
    const run = await runCni(env, configText);
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.deepEqual(printed(run), RESULT);
    assert.equal(run.stderr, "");

    assert.equal(fake.requests.length, 1);
    const req = fake.requests[0]!;
    assert.equal(req.method, "POST");
    assert.equal(req.url, "/cni/v1/add");
    assert.equal(req.contentType, "application/json");
    assert.deepEqual(req.body, {
      command: "ADD",
      containerId: env.CNI_CONTAINERID,
      netns: env.CNI_NETNS,
      ifname: "eth0",
      args: env.CNI_ARGS,
      path: env.CNI_PATH,
      config: JSON.parse(configText),
    });
    // The config text is spliced in unchanged, digits of the big number included.
    assert.ok(req.text.endsWith(`"config":${configText.trim()}}`));
    assert.ok(req.text.includes("12345678901234567890"));
  });

  it("sends unset CNI_* variables as empty strings", async () => {
    fake.requests.length = 0;
    fake.handler = () => ({ body: {} });
    const run = await runCni({ CNI_COMMAND: "STATUS" }, JSON.stringify(config));
    assert.equal(run.status, 0, run.stdout);
    assert.equal(run.stdout, "");
    assert.equal(fake.requests[0]?.url, "/cni/v1/status");
    assert.deepEqual(fake.requests[0]?.body, { command: "STATUS", containerId: "", netns: "", ifname: "", args: "", path: "", config });
  });

  for (const command of ["DEL", "CHECK", "GC"]) {
    it(`prints nothing on a successful ${command}`, async () => {
      fake.requests.length = 0;
      fake.handler = () => ({ body: { result: null } });
      const run = await runCni({ ...env, CNI_COMMAND: command, CNI_NETNS: "" }, JSON.stringify(config));
      assert.equal(run.status, 0, run.stdout);
      assert.equal(run.stdout, "");
      assert.equal(fake.requests[0]?.url, `/cni/v1/${command.toLowerCase()}`);
    });
  }

  it("prints the agent's error with cniVersion and exits 1", async () => {
    fake.handler = () => ({ status: 400, body: { error: { code: 7, msg: 'Cannot use network config "blue": network: not found', details: "d" } } });
    const run = await runCni(env, JSON.stringify({ ...config, cniVersion: "0.4.0" }));
    assert.equal(run.status, 1);
    assert.equal(run.stdout, '{"cniVersion":"0.4.0","code":7,"msg":"Cannot use network config \\"blue\\": network: not found","details":"d"}\n');
  });

  it("reports an answer it cannot understand as code 101", async () => {
    fake.handler = () => ({ status: 404, raw: "404 Not Found" });
    const run = await runCni(env, JSON.stringify(config));
    assert.equal(run.status, 1);
    const out = printed(run);
    assert.equal(out["code"], 101);
    assert.equal(out["cniVersion"], "1.0.0");
  });

  it("answers VERSION without an agent", async () => {
    fake.requests.length = 0;
    const want = { cniVersion: "1.0.0", supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] };
    // podman's VERSION call: dummy env, stdin {"cniVersion":"1.0.0"}.
    const run = await runCni({ CNI_COMMAND: "VERSION", CNI_NETNS: "dummy", CNI_IFNAME: "dummy", CNI_PATH: "dummy" }, '{"cniVersion":"1.0.0"}');
    assert.equal(run.status, 0);
    assert.deepEqual(printed(run), want);
    for (const stdin of ["", "not json", '{"cniVersion":"0.1.0"}']) {
      const other = await runCni({ CNI_COMMAND: "VERSION" }, stdin);
      assert.equal(other.status, 0);
      assert.deepEqual(printed(other), { ...want, cniVersion: "1.1.0" });
    }
    assert.equal(fake.requests.length, 0);
  });

  it("reports a missing agent as code 11 on ADD and DEL, 50 on STATUS", async () => {
    const socket = `${fake.dir}/gone.sock`;
    const stdin = JSON.stringify({ ...config, socket });
    for (const [command, code] of [["ADD", 11], ["DEL", 11], ["STATUS", 50]] as const) {
      const run = await runCni({ ...env, CNI_COMMAND: command }, stdin);
      assert.equal(run.status, 1, command);
      const out = printed(run);
      assert.equal(out["code"], code, command);
      assert.equal(out["cniVersion"], "1.0.0");
      assert.match(String(out["msg"]), new RegExp(`^Cannot ${command}: netplugin agent on ".*gone.sock" is not reachable`));
    }
  });

  it("uses the default socket when the config names none", async (t) => {
    if (existsSync("/run/netplugin/netplugin.sock")) return t.skip("an agent socket exists on this machine");
    // STATUS: harmless even if an agent appears on the default socket meanwhile.
    const run = await runCni({ CNI_COMMAND: "STATUS" }, JSON.stringify({ cniVersion: "1.0.0", name: "blue", type: "netplugin" }));
    assert.equal(run.status, 1);
    assert.equal(printed(run)["code"], 50);
    assert.match(String(printed(run)["msg"]), /"\/run\/netplugin\/netplugin.sock"/);
  });

  const decode: { name: string; stdin: string; msg: RegExp }[] = [
    { name: "malformed JSON", stdin: '{"cniVersion":"1.0.0",', msg: /^Cannot decode the network config on stdin: / },
    { name: "empty stdin", stdin: "", msg: /stdin is empty/ },
    { name: "a JSON array", stdin: "[1,2]", msg: /it is not a JSON object/ },
  ];
  for (const c of decode) {
    it(`reports ${c.name} as code 6 without calling the agent`, async () => {
      fake.requests.length = 0;
      const run = await runCni(env, c.stdin);
      assert.equal(run.status, 1);
      const out = printed(run);
      assert.equal(out["code"], 6);
      assert.equal(out["cniVersion"], "1.1.0");
      assert.match(String(out["msg"]), c.msg);
      assert.equal(fake.requests.length, 0);
    });
  }

  it("reports a missing or unknown CNI_COMMAND as code 4", async () => {
    const missing = await runCni({}, JSON.stringify(config));
    assert.equal(missing.status, 1);
    assert.deepEqual(printed(missing), { cniVersion: "1.0.0", code: 4, msg: "Cannot run: CNI_COMMAND is missing" });
    assert.match(missing.stderr, /CNI_COMMAND/);
    const unknown = await runCni({ CNI_COMMAND: "INIT" }, JSON.stringify(config));
    assert.equal(unknown.status, 1);
    assert.equal(printed(unknown)["code"], 4);
    assert.match(String(printed(unknown)["msg"]), /CNI_COMMAND "INIT" is not one of ADD, DEL, CHECK, STATUS, GC, VERSION/);
  });

  it("forwards a config of exactly MAX_CONFIG_BYTES", async () => {
    fake.requests.length = 0;
    fake.handler = () => ({ body: {} });
    const text = JSON.stringify({ ...config, pad: "" });
    const stdin = text.replace('"pad":""', `"pad":"${"p".repeat(MAX_CONFIG_BYTES - Buffer.byteLength(text))}"`);
    assert.equal(Buffer.byteLength(stdin), MAX_CONFIG_BYTES);
    const run = await runCni({ ...env, CNI_COMMAND: "STATUS" }, stdin);
    assert.equal(run.status, 0, run.stdout);
    assert.equal(fake.requests.length, 1);
  });

  it("refuses a longer config with code 7 as soon as the extra byte arrives, without calling the agent", async () => {
    fake.requests.length = 0;
    // Never closed: the executable must not wait for the end.
    const run = await runCni(env, Buffer.alloc(MAX_CONFIG_BYTES + 1, "{"), { keepOpen: true });
    assert.equal(run.status, 1, "did not stop reading");
    assert.deepEqual(printed(run), { cniVersion: "1.1.0", code: 7, msg: "Cannot use the network config on stdin: it is larger than 1048576 bytes" });
    assert.equal(fake.requests.length, 0);
  });

  it("answers VERSION whatever stdin holds, a config too large included", async () => {
    const run = await runCni({ CNI_COMMAND: "VERSION" }, Buffer.alloc(8 * MAX_CONFIG_BYTES, " "));
    assert.equal(run.status, 0);
    assert.equal(printed(run)["cniVersion"], "1.1.0");
  });

  it("names only a version it speaks in its errors", async () => {
    for (const cniVersion of ["0.2.0", "v".repeat(100_000), 7]) {
      const run = await runCni({ CNI_COMMAND: "INIT" }, JSON.stringify({ ...config, cniVersion }));
      assert.equal(run.status, 1);
      assert.equal(printed(run)["cniVersion"], "1.1.0");
    }
  });

  it("quotes at most 64 characters of a bad CNI_COMMAND or socket", async () => {
    const command = await runCni({ CNI_COMMAND: "X".repeat(100_000) }, JSON.stringify(config));
    assert.equal(printed(command)["msg"], `Cannot run: CNI_COMMAND "${"X".repeat(64)}"… (100000 characters) is not one of ADD, DEL, CHECK, STATUS, GC, VERSION`);
    const deep = `${"[".repeat(100_000)}"/x"${"]".repeat(100_000)}`;
    const socket = await runCni(env, JSON.stringify({ ...config, socket: "" }).replace('"socket":""', `"socket":${deep}`));
    assert.equal(socket.status, 1, socket.stderr);
    assert.deepEqual(printed(socket), { cniVersion: "1.0.0", code: 7, msg: "Cannot use network config: socket […] must be an absolute path" });
  });

  it("reports a socket that is not an absolute path as code 7", async () => {
    const run = await runCni(env, JSON.stringify({ ...config, socket: 42 }));
    assert.equal(run.status, 1);
    assert.equal(printed(run)["code"], 7);
  });
});
