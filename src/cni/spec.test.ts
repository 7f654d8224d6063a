import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  CniError,
  cniError,
  parseCniCall,
  toCniErrorBody,
  validateEnv,
  versionAnswer,
  type CniCommand,
  type CniRequest,
} from "./spec.js";

const config = { cniVersion: "1.0.0", name: "blue", type: "netplugin", network: "blue-net" };

function request(over: Partial<CniRequest> = {}): CniRequest {
  return {
    command: "ADD",
    containerId: "3f6940ab5ab4",
    netns: "/run/netns/netns-1",
    ifname: "eth0",
    args: "",
    path: "/opt/cni/bin:/usr/lib/cni",
    config,
    ...over,
  };
}

function expectCode(fn: () => unknown, code: number, msg: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CniError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, msg);
    return true;
  });
}

describe("validateEnv", () => {
  const env = { containerId: "c1", netns: "/proc/1/ns/net", ifname: "eth0", path: "/a::/b" };

  it("splits CNI_PATH and accepts the usual values", () => {
    assert.deepEqual(validateEnv("ADD", env), { ...env, path: ["/a", "/b"] });
    assert.doesNotThrow(() => validateEnv("CHECK", { ...env, containerId: "k8s.io-ctrcni1" }));
  });

  it("lets DEL run without a netns", () => {
    assert.equal(validateEnv("DEL", { ...env, netns: "" }).netns, "");
  });

  it("needs nothing for STATUS and GC", () => {
    for (const cmd of ["STATUS", "GC"] as const) {
      assert.doesNotThrow(() => validateEnv(cmd, { containerId: "", netns: "", ifname: "", path: "" }));
    }
  });

  const bad: { name: string; command: CniCommand; over: Partial<typeof env>; msg: RegExp }[] = [
    { name: "no container id", command: "ADD", over: { containerId: "" }, msg: /required environment variable CNI_CONTAINERID is missing/ },
    { name: "no ifname on DEL", command: "DEL", over: { ifname: "" }, msg: /CNI_IFNAME is missing/ },
    { name: "no netns on ADD", command: "ADD", over: { netns: "" }, msg: /CNI_NETNS is missing/ },
    { name: "no netns on CHECK", command: "CHECK", over: { netns: "" }, msg: /CNI_NETNS is missing/ },
    { name: "all three missing", command: "ADD", over: { containerId: "", netns: "", ifname: "" }, msg: /variables CNI_CONTAINERID, CNI_IFNAME, CNI_NETNS are missing/ },
    { name: "a container id with '/'", command: "ADD", over: { containerId: "a/b" }, msg: /CNI_CONTAINERID "a\/b" is not a container id/ },
    { name: "a container id of 241 characters", command: "ADD", over: { containerId: "c".repeat(241) }, msg: /CNI_CONTAINERID "c{64}"… \(241 characters\) is 241 characters long: at most 240$/ },
    { name: "a long container id on DEL", command: "DEL", over: { containerId: "c".repeat(300) }, msg: /CNI_CONTAINERID .* at most 240/ },
    { name: "an ifname of 15 characters but 16 bytes", command: "ADD", over: { ifname: "é".repeat(8) }, msg: /CNI_IFNAME "é{8}" is not an interface name: 16 bytes, at most 15/ },
    { name: "an ifname with '#'", command: "CHECK", over: { ifname: "eth#1" }, msg: /CNI_IFNAME "eth#1" is not an interface name netplugin can use/ },
    { name: "a netns with a space", command: "ADD", over: { netns: "/run/netns/a b" }, msg: /CNI_NETNS "\/run\/netns\/a b" is not a path netplugin can use/ },
    { name: "a netns longer than PATH_MAX", command: "DEL", over: { netns: "/" + "n".repeat(4095) }, msg: /CNI_NETNS "\/n{63}"… \(4096 characters\) is 4096 bytes long: at most 4095/ },
    { name: "every bad variable at once", command: "ADD", over: { containerId: "-x", ifname: ".", netns: "x" }, msg: /^Cannot ADD: CNI_CONTAINERID "-x" .*; CNI_IFNAME "\." .*; CNI_NETNS "x" must be an absolute path$/ },
    { name: "an ifname of 16 characters", command: "ADD", over: { ifname: "a".repeat(16) }, msg: /CNI_IFNAME "a{16}" is not an interface name/ },
    { name: "an ifname with ':'", command: "DEL", over: { ifname: "eth0:1" }, msg: /CNI_IFNAME "eth0:1"/ },
    { name: "an ifname '..'", command: "ADD", over: { ifname: ".." }, msg: /CNI_IFNAME "\.\."/ },
    { name: "a relative netns", command: "ADD", over: { netns: "netns-1" }, msg: /CNI_NETNS "netns-1" must be an absolute path/ },
  ];
  for (const c of bad) {
    it(`rejects ${c.name} with code 4`, () => expectCode(() => validateEnv(c.command, { ...env, ...c.over }), 4, c.msg));
  }
});

describe("parseCniCall", () => {
  it("turns a podman ADD into an endpoint spec", () => {
    const call = parseCniCall(
      request({
        args: "IgnoreUnknown=1;K8S_POD_NAME=pc1;MAC=02:00:c6:12:d5:32;IP=198.18.213.50",
        config: {
          ...config,
          capabilities: { portMappings: true, aliases: true },
          runtimeConfig: {
            portMappings: [{ hostPort: 18081, containerPort: 80, protocol: "tcp", hostIP: "127.0.0.1" }],
            aliases: { blue: ["web", "3f6940ab5ab4"] },
          },
        },
      }),
    );
    assert.equal(call.command, "ADD");
    if (call.command !== "ADD") return;
    assert.equal(call.cniVersion, "1.0.0");
    assert.equal(call.containerId, "3f6940ab5ab4");
    assert.deepEqual(call.path, ["/opt/cni/bin", "/usr/lib/cni"]);
    assert.deepEqual(call.pod, { name: "pc1" });
    assert.deepEqual(call.endpoint, {
      tenant: "default",
      network: "blue-net",
      ips: ["198.18.213.50"],
      mac: "02:00:c6:12:d5:32",
      portMappings: [{ hostPort: 18081, containerPort: 80, protocol: "tcp", hostIP: "127.0.0.1" }],
      aliases: ["web", "3f6940ab5ab4"],
      labels: {},
    });
  });

  it("reads containerd's pod args and capitalised port mappings", () => {
    const call = parseCniCall(
      request({
        args: "K8S_POD_INFRA_CONTAINER_ID=abc;IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=p1;K8S_POD_UID=u1",
        config: { ...config, runtimeConfig: { portMappings: [{ HostPort: 8080, ContainerPort: 80, Protocol: "tcp", HostIP: "" }] } },
      }),
    );
    if (call.command !== "ADD") return assert.fail("not ADD");
    assert.deepEqual(call.pod, { namespace: "ns1", name: "p1", infraContainerId: "abc", uid: "u1" });
    assert.deepEqual(call.endpoint.portMappings, [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }]);
  });

  it("lets CNI_ARGS override tenant, network and group, and merges static addresses in order", () => {
    const call = parseCniCall(
      request({
        args: "io.contiv.tenant=t2;io.contiv.network=n2;io.contiv.net-group=g2;IP=198.18.9.3;MAC=02:00:00:00:00:03",
        config: {
          ...config,
          tenant: "t1",
          group: "g1",
          runtimeConfig: { ips: ["198.18.9.1/24"], mac: "02:00:00:00:00:01" },
          args: { cni: { ips: ["198.18.9.2", "198.18.9.1/24"], mac: "02:00:00:00:00:02" } },
        },
      }),
    );
    if (call.command !== "ADD") return assert.fail("not ADD");
    assert.equal(call.endpoint.tenant, "t2");
    assert.equal(call.endpoint.network, "n2");
    assert.equal(call.endpoint.group, "g2");
    assert.deepEqual(call.endpoint.ips, ["198.18.9.1/24", "198.18.9.2", "198.18.9.3"]);
    assert.equal(call.endpoint.mac, "02:00:00:00:00:01");
  });

  it("takes the network from CNI_ARGS when the config has none", () => {
    const call = parseCniCall(request({ args: "io.contiv.network=n3", config: { ...config, network: undefined } }));
    if (call.command !== "ADD") return assert.fail("not ADD");
    assert.equal(call.endpoint.network, "n3");
  });

  it("accepts containerd's second DEL (no netns) and a DEL without a resolvable network", () => {
    const del = parseCniCall(request({ command: "DEL", netns: "" }));
    assert.equal(del.command, "DEL");
    const bare = parseCniCall(request({ command: "DEL", config: { ...config, network: undefined } }));
    assert.ok(bare.command === "DEL" && bare.endpoint === undefined);
  });

  it("passes prevResult to DEL and CHECK", () => {
    const prevResult = { cniVersion: "1.0.0", ips: [{ address: "198.18.5.2/24", interface: 0 }], interfaces: [{ name: "eth0", mac: "02:00:00:00:00:01", sandbox: "/run/netns/x" }] };
    const check = parseCniCall(request({ command: "CHECK", config: { ...config, prevResult } }));
    assert.ok(check.command === "CHECK");
    assert.deepEqual(check.prevResult.ips, [{ address: "198.18.5.2/24", interface: 0 }]);
    const del = parseCniCall(request({ command: "DEL", config: { ...config, prevResult } }));
    assert.ok(del.command === "DEL" && del.prevResult?.interfaces[0]?.name === "eth0");
  });

  it("reads a delegated ADD: with the IPAM plugin's result, or pending (its interface first)", () => {
    const dhcp = { ...config, ipam: { type: "dhcp" } };
    const pending = parseCniCall(request({ config: dhcp, ipamPending: true }));
    assert.ok(pending.command === "ADD");
    assert.deepEqual(pending.ipam, { type: "dhcp" });
    const leased = parseCniCall(request({ config: dhcp, ipamResult: { cniVersion: "1.0.0", ips: [{ address: "198.18.5.9/24" }] } }));
    assert.ok(leased.command === "ADD");
    assert.deepEqual(leased.ipam?.result?.ips.map((i) => i.address), ["198.18.5.9/24"]);
  });

  it("parses STATUS and GC without container env", () => {
    const status = parseCniCall({ command: "STATUS", config });
    assert.equal(status.command, "STATUS");
    const gc = parseCniCall({
      command: "GC",
      path: "/opt/cni/bin",
      config: { ...config, "cni.dev/valid-attachments": [{ containerID: "c1", ifname: "eth0" }] },
    });
    assert.ok(gc.command === "GC");
    assert.deepEqual(gc.validAttachments, [{ containerId: "c1", ifname: "eth0" }]);
  });

  const bad: { name: string; body: unknown; code: number; msg: RegExp }[] = [
    { name: "a body that is not an object", body: "x", code: 6, msg: /Cannot decode CNI request: body must be a JSON object/ },
    { name: "an unknown command", body: { ...request(), command: "INIT" }, code: 6, msg: /command "INIT" is not one of/ },
    { name: "a non-string env field", body: { ...request(), ifname: 5 }, code: 6, msg: /ifname must be a string/ },
    { name: "VERSION", body: request({ command: "VERSION" }), code: 4, msg: /versionAnswer/ },
    { name: "an unsupported cniVersion", body: request({ config: { ...config, cniVersion: "0.2.0" } }), code: 1, msg: /cniVersion "0.2.0" is not supported/ },
    { name: "a missing config", body: { ...request(), config: undefined }, code: 6, msg: /must be a JSON object/ },
    { name: "a bad config", body: request({ config: { ...config, type: "bridge" } }), code: 7, msg: /type: is "bridge"/ },
    { name: "an ipam section without type", body: request({ config: { ...config, ipam: {} } }), code: 7, msg: /ipam.type: is missing/ },
    { name: "delegated IPAM without its result", body: request({ config: { ...config, ipam: { type: "host-local" } } }), code: 7, msg: /delegates IPAM to "host-local" but the call carries no IPAM result/ },
    { name: "an IPAM result without address", body: request({ config: { ...config, ipam: { type: "host-local" } }, ipamResult: { cniVersion: "1.0.0", ips: [] } }), code: 7, msg: /result of IPAM plugin "host-local": it holds no address/ },
    { name: "a bad IPAM result", body: request({ config: { ...config, ipam: { type: "static" } }, ipamResult: { ips: [{ address: "198.18.5.9" }] } }), code: 7, msg: /result of IPAM plugin "static": ipamResult.ips\[0\].address: must be an address with prefix length/ },
    { name: "an IPAM result without ipam section", body: request({ ipamResult: { ips: [{ address: "198.18.5.9/24" }] } }), code: 6, msg: /ipamResult and ipamPending are only for an ADD whose config has an ipam section/ },
    { name: "ipamPending without ipam section", body: request({ ipamPending: true }), code: 6, msg: /ipamResult and ipamPending are only for an ADD/ },
    { name: "ipamPending with a result", body: request({ config: { ...config, ipam: { type: "dhcp" } }, ipamPending: true, ipamResult: { ips: [{ address: "198.18.5.9/24" }] } }), code: 6, msg: /ipamPending and ipamResult together/ },
    { name: "ipamPending not a boolean", body: request({ config: { ...config, ipam: { type: "dhcp" } }, ipamPending: "yes" as unknown as boolean }), code: 6, msg: /ipamPending must be a boolean/ },
    { name: "a missing netns on ADD", body: request({ netns: "" }), code: 4, msg: /CNI_NETNS is missing/ },
    { name: "bad CNI_ARGS", body: request({ args: "FOO=1" }), code: 6, msg: /Cannot decode CNI_ARGS: FOO: unknown key/ },
    { name: "ADD without a network", body: request({ config: { ...config, network: undefined } }), code: 7, msg: /no network given: set "network" in the config or io.contiv.network in CNI_ARGS/ },
    { name: "CHECK without prevResult", body: request({ command: "CHECK" }), code: 7, msg: /CHECK needs prevResult/ },
    { name: "GC without attachments", body: request({ command: "GC" }), code: 7, msg: /GC needs cni.dev\/valid-attachments/ },
  ];
  for (const c of bad) {
    it(`rejects ${c.name} with code ${c.code}`, () => expectCode(() => parseCniCall(c.body), c.code, c.msg));
  }
});

describe("versionAnswer", () => {
  it("echoes a supported version and lists all", () => {
    assert.deepEqual(versionAnswer({ cniVersion: "0.4.0" }), {
      cniVersion: "0.4.0",
      supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    });
  });
  it("names the latest for anything else", () => {
    for (const c of [undefined, {}, { cniVersion: "0.2.0" }, "x"]) assert.equal(versionAnswer(c).cniVersion, "1.1.0");
  });
});

describe("CNI error bodies", () => {
  it("keeps a CniError's code and details", () => {
    assert.deepEqual(toCniErrorBody(cniError(3, "gone", "container c1")), { code: 3, msg: "gone", details: "container c1" });
    assert.deepEqual(toCniErrorBody(cniError(11, "later")), { code: 11, msg: "later" });
  });
  it("turns anything else into code 100", () => {
    assert.deepEqual(toCniErrorBody(new TypeError("x is undefined")), { code: 100, msg: "netplugin agent failed: x is undefined" });
    assert.deepEqual(toCniErrorBody("boom"), { code: 100, msg: "netplugin agent failed: boom" });
  });
});
