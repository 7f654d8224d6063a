import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { CniError } from "./errors.js";
import { parseNetConf } from "./netconf.js";

const base = { cniVersion: "1.0.0", name: "blue", type: "netplugin", network: "blue-net" };

function expectCode(config: unknown, code: number, msg: RegExp): void {
  assert.throws(
    () => parseNetConf(config),
    (err: unknown) => {
      assert.ok(err instanceof CniError, String(err));
      assert.equal(err.code, code, err.message);
      assert.match(err.message, msg);
      return true;
    },
  );
}

describe("parseNetConf", () => {
  it("fills the defaults of a minimal config", () => {
    assert.deepEqual(parseNetConf({ cniVersion: "0.3.1", name: "blue", type: "netplugin" }), {
      cniVersion: "0.3.1",
      name: "blue",
      type: "netplugin",
      tenant: "default",
      socket: "/run/netplugin/netplugin.sock",
      runtimeConfig: { ips: [], portMappings: [], aliases: [] },
      args: { ips: [], labels: {} },
      ignoredFields: [],
    });
  });

  it("reads every field of a full config", () => {
    const got = parseNetConf({
      ...base,
      cniVersion: "1.1.0",
      cniVersions: ["1.0.0", "1.1.0"],
      tenant: "t1",
      group: "web",
      socket: "/tmp/a.sock",
      capabilities: { ips: true, mac: true, portMappings: true, aliases: true },
      runtimeConfig: {
        ips: ["198.18.5.9/24", "fd00::9/64"],
        mac: "02:AA:00:00:00:09",
        portMappings: [
          { hostPort: 18081, containerPort: 80, protocol: "tcp", hostIP: "127.0.0.1" },
          { HostPort: 5353, ContainerPort: 53, Protocol: "UDP", HostIP: "" },
          { hostPort: 9000, containerPort: 9000 },
          { HostPort: 9001, ContainerPort: 9001, Protocol: "" },
        ],
        aliases: { blue: ["web", "abc123", "web"], other: ["x"] },
        bandwidth: { ingressRate: 1 },
      },
      args: { cni: { ips: ["198.18.5.10"], mac: "02:aa:00:00:00:0a", labels: [{ key: "app", value: "web" }, { key: "tier", value: "front" }] }, other: {} },
      dns: { nameservers: ["198.18.5.1"], search: ["blue.t1"] },
      tenat: "typo",
    });
    assert.equal(got.tenant, "t1");
    assert.equal(got.network, "blue-net");
    assert.equal(got.group, "web");
    assert.equal(got.socket, "/tmp/a.sock");
    assert.deepEqual(got.runtimeConfig, {
      ips: ["198.18.5.9/24", "fd00::9/64"],
      mac: "02:aa:00:00:00:09",
      portMappings: [
        { hostPort: 18081, containerPort: 80, protocol: "tcp", hostIP: "127.0.0.1" },
        { hostPort: 5353, containerPort: 53, protocol: "udp" },
        { hostPort: 9000, containerPort: 9000, protocol: "tcp" },
        { hostPort: 9001, containerPort: 9001, protocol: "tcp" },
      ],
      aliases: ["web", "abc123"],
    });
    assert.deepEqual(got.args, { ips: ["198.18.5.10"], mac: "02:aa:00:00:00:0a", labels: { app: "web", tier: "front" } });
    assert.deepEqual(got.dns, { nameservers: ["198.18.5.1"], search: ["blue.t1"] });
    assert.deepEqual(got.ignoredFields, ["tenat"]);
  });

  it("reads prevResult and GC attachments (either key)", () => {
    const got = parseNetConf({
      ...base,
      prevResult: { cniVersion: "1.0.0", ips: [{ address: "198.18.5.2/24" }] },
      "cni.dev/attachments": [{ containerID: "c1", ifname: "eth0" }],
    });
    assert.deepEqual(got.prevResult?.ips, [{ address: "198.18.5.2/24" }]);
    assert.deepEqual(got.validAttachments, [{ containerId: "c1", ifname: "eth0" }]);
    const got2 = parseNetConf({ ...base, "cni.dev/valid-attachments": [] });
    assert.deepEqual(got2.validAttachments, []);
  });

  it("treats empty tenant, group and socket as absent", () => {
    const got = parseNetConf({ ...base, tenant: "", group: "", socket: "" });
    assert.equal(got.tenant, "default");
    assert.equal(got.group, undefined);
    assert.equal(got.socket, "/run/netplugin/netplugin.sock");
  });

  const bad: { name: string; config: unknown; code: number; msg: RegExp }[] = [
    { name: "a non-object", config: [1], code: 6, msg: /must be a JSON object/ },
    { name: "a missing cniVersion", config: { name: "a", type: "netplugin" }, code: 1, msg: /cniVersion is missing: this plugin supports 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0/ },
    { name: "cniVersion 0.2.0", config: { ...base, cniVersion: "0.2.0" }, code: 1, msg: /cniVersion "0.2.0" is not supported/ },
    { name: "cniVersion 1.2.0", config: { ...base, cniVersion: "1.2.0" }, code: 1, msg: /cniVersion "1.2.0" is not supported/ },
    { name: "a numeric cniVersion", config: { ...base, cniVersion: 1 }, code: 1, msg: /cniVersion 1 is not supported/ },
    { name: "an ipam section that is not an object", config: { ...base, ipam: "host-local" }, code: 7, msg: /ipam: "host-local" must be an object with the IPAM plugin's "type"/ },
    { name: "an ipam section without type", config: { ...base, ipam: { ranges: [] } }, code: 7, msg: /ipam.type: is missing: name the IPAM plugin/ },
    { name: "an ipam type with a slash", config: { ...base, ipam: { type: "../../bin/sh" } }, code: 7, msg: /ipam.type: "..\/..\/bin\/sh" is not a plugin name: .* no '\/'/ },
    { name: "an absolute ipam type", config: { ...base, ipam: { type: "/usr/lib/cni/host-local" } }, code: 7, msg: /ipam.type: .* is not a plugin name/ },
    { name: "an ipam type naming this plugin", config: { ...base, ipam: { type: "netplugin" } }, code: 7, msg: /ipam.type: "netplugin" is this plugin itself/ },
    { name: "a numeric ipam type", config: { ...base, ipam: { type: 5 } }, code: 7, msg: /ipam.type: 5 is not a string/ },
    { name: "a missing name", config: { cniVersion: "1.0.0", type: "netplugin" }, code: 7, msg: /^Cannot use network config: name: is missing/ },
    { name: "a bad name", config: { ...base, name: "-x" }, code: 7, msg: /name: "-x" is not a network config name/ },
    { name: "a name of 257 characters", config: { ...base, name: "n".repeat(257) }, code: 7, msg: /^Cannot use network config "n{64}"… \(257 characters\): name: "n{64}"… \(257 characters\) is 257 characters long: at most 256$/ },
    { name: "a name of a megabyte", config: { ...base, name: "n".repeat(1 << 20) }, code: 7, msg: /name: .* is 1048576 characters long/ },
    { name: "a missing type", config: { cniVersion: "1.0.0", name: "a" }, code: 7, msg: /type: is missing: want "netplugin"/ },
    { name: "another plugin's type", config: { ...base, type: "bridge" }, code: 7, msg: /type: is "bridge": this plugin is "netplugin"/ },
    { name: "a bad tenant", config: { ...base, tenant: "a_b" }, code: 7, msg: /tenant: "a_b" is not a valid tenant name/ },
    { name: "a bad network", config: { ...base, network: "x-" }, code: 7, msg: /network: "x-" is not a valid network name/ },
    { name: "a non-string group", config: { ...base, group: 5 }, code: 7, msg: /group: 5 is not a valid group name/ },
    { name: "a relative socket", config: { ...base, socket: "run/x.sock" }, code: 7, msg: /socket: must be an absolute path/ },
    { name: "a socket path too long", config: { ...base, socket: "/" + "x".repeat(107) }, code: 7, msg: /too long for a unix socket/ },
    { name: "bad cniVersions", config: { ...base, cniVersions: "1.0.0" }, code: 7, msg: /cniVersions: must be a list/ },
    { name: "runtimeConfig not an object", config: { ...base, runtimeConfig: [] }, code: 7, msg: /runtimeConfig: must be an object/ },
    { name: "a bad static IP", config: { ...base, runtimeConfig: { ips: ["198.18.5.9/24", "nope"] } }, code: 7, msg: /runtimeConfig.ips\[1\]: "nope" is not an IP address/ },
    { name: "ips not a list", config: { ...base, runtimeConfig: { ips: "198.18.5.9" } }, code: 7, msg: /runtimeConfig.ips: must be a list/ },
    { name: "a bad MAC", config: { ...base, runtimeConfig: { mac: "02:00" } }, code: 7, msg: /runtimeConfig.mac: "02:00" is not a MAC address/ },
    { name: "a multicast MAC in args", config: { ...base, args: { cni: { mac: "03:00:00:00:00:01" } } }, code: 7, msg: /args.cni.mac: .* multicast/ },
    { name: "a label that is not one", config: { ...base, args: { cni: { labels: [{ key: "bad key", value: "x" }] } } }, code: 7, msg: /args.cni.labels\[0\]: label key "bad key" is not a label key/ },
    { name: "a label netmaster keeps for itself", config: { ...base, args: { cni: { labels: [{ key: "io.contiv.tenant", value: "x" }] } } }, code: 7, msg: /args.cni.labels\[0\]: label key "io.contiv.tenant" is netmaster's own/ },
    { name: "labels not a list", config: { ...base, args: { cni: { labels: { app: "web" } } } }, code: 7, msg: /args.cni.labels: must be a list of \{key, value\}/ },
    { name: "a bad args.cni.ips", config: { ...base, args: { cni: { ips: [7] } } }, code: 7, msg: /args.cni.ips\[0\]: 7 is not an IP address/ },
    { name: "a port out of range", config: { ...base, runtimeConfig: { portMappings: [{ hostPort: 0, containerPort: 80 }] } }, code: 7, msg: /portMappings\[0\].hostPort: 0 is not a port number/ },
    { name: "a missing container port", config: { ...base, runtimeConfig: { portMappings: [{ hostPort: 80 }] } }, code: 7, msg: /portMappings\[0\].containerPort: null is not a port number/ },
    { name: "an unknown protocol", config: { ...base, runtimeConfig: { portMappings: [{ hostPort: 80, containerPort: 80, protocol: "icmp" }] } }, code: 7, msg: /protocol: "icmp" is not one of/ },
    { name: "a bad hostIP", config: { ...base, runtimeConfig: { portMappings: [{ hostPort: 80, containerPort: 80, hostIP: "x" }] } }, code: 7, msg: /hostIP: "x" is not an IP address/ },
    { name: "bad aliases", config: { ...base, runtimeConfig: { aliases: { blue: "web" } } }, code: 7, msg: /runtimeConfig.aliases.blue: must be a list of names/ },
    { name: "bad dns", config: { ...base, dns: { domain: 5 } }, code: 7, msg: /dns.domain: must be a string/ },
    { name: "a bad prevResult", config: { ...base, prevResult: { ips: [{ address: "x" }] } }, code: 7, msg: /prevResult.ips\[0\].address: must be an address with prefix length/ },
    { name: "bad GC attachments", config: { ...base, "cni.dev/valid-attachments": [{ containerID: "" }] }, code: 7, msg: /cni.dev\/valid-attachments\[0\]: must be an object/ },
  ];
  for (const c of bad) {
    it(`rejects ${c.name} with code ${c.code}`, () => expectCode(c.config, c.code, c.msg));
  }

  it("quotes at most 64 characters of a value, also one nested too deep to print", () => {
    let deep: unknown = {};
    for (let n = 0; n < 100_000; n++) deep = { a: deep };
    expectCode({ ...base, type: deep }, 7, /^Cannot use network config "blue": type: is \{…\}: this plugin is "netplugin"$/);
    expectCode({ ...base, ipam: deep }, 7, /^Cannot use network config "blue": ipam.type: is missing/);
    expectCode({ ...base, ipam: { type: deep } }, 7, /^Cannot use network config "blue": ipam.type: \{…\} is not a string$/);
    expectCode({ ...base, tenant: "t".repeat(100_000) }, 7, /^Cannot use network config "blue": tenant: "t{64}"… \(100000 characters\) is not a valid tenant name/);
  });

  it("names the config and lists every problem", () => {
    assert.throws(
      () => parseNetConf({ ...base, tenant: "_", type: "x", runtimeConfig: { mac: "1" } }),
      (err: unknown) => {
        assert.ok(err instanceof CniError);
        assert.match(err.message, /^Cannot use network config "blue": type: is "x": this plugin is "netplugin" \(and 2 more\)$/);
        assert.equal(err.details?.split("; ").length, 3);
        return true;
      },
    );
  });
});
