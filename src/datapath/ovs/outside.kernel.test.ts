// A tenant's way out on a real, private Open vSwitch (userspace datapath) in a namespace standing in for the host,
// with an "outside" namespace on a veth of the host (a machine beyond the cluster): a bridge-mode tenant with two
// networks and an uplink. Its containers reach the outside NATed to the host's address; a published host port
// reaches its container from the outside; its two networks stay apart although the gateway namespace now
// forwards; a second run and a restarted agent change nothing; the uplink taken away takes the NAT with it.
// Needs root and openvswitch-switch. Per-run names in 198.18.0.0/15; everything removed at the end, also on failure.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { NAT_TABLE } from "../linux/renderOverlay.js";
import { exec, ping, probe, startProbe, tcp } from "../linux/testing/netns.js";
import { hostNftTable, UPLINK_TENANT_LINK, uplinkHostLink } from "../names.js";
import { emptyPolicy } from "../testing/desired.js";
import type { DesiredHost } from "../types.js";
import type { OvsDatapath } from "./driver.js";
import { needsOvs, OvsTestHost } from "./testing/ovs-host.js";

describe("OVS driver: a tenant's way out and published ports", { skip: needsOvs }, () => {
  const P = `npo${randomBytes(2).toString("hex")}`;
  const testHost = new OvsTestHost(P);
  const HOST = testHost.host;
  const TENANT_NS = `${P}-t-a`;
  const OUTSIDE = `${P}-out`;
  const HOST_ADDRESS = "198.18.64.1";
  const OUTSIDE_ADDRESS = "198.18.64.2";
  let driver: OvsDatapath;

  // blue: 198.18.62.0/24, red: 198.18.63.0/24; gateways .254.
  const subnet = (network: string) => (network === "blue" ? 62 : 63);
  const net = (name: string) => ({
    name,
    bridge: `nb${P.slice(3)}${name}`,
    subnet: `198.18.${subnet(name)}.0/24`,
    gateway: `198.18.${subnet(name)}.254`,
    ipv6Subnet: "",
    ipv6Gateway: "",
    mtu: 1450,
    routed: false,
    netfilter: false,
    interceptDns: true,
  });
  const desired = (withUplink = true): DesiredHost => {
    const c1 = testHost.endpoint("c1", 1, { network: "blue", net24: "198.18.62", mac: "02:00:c6:12:3e:01" });
    const c2 = testHost.endpoint("c2", 2, { network: "red", net24: "198.18.63", mac: "02:00:c6:12:3f:02" });
    return {
      prefix: P,
      tenants: [
        {
          name: "a",
          namespace: TENANT_NS,
          fwdMode: "bridge",
          networks: [net("blue"), net("red")],
          endpoints: [withUplink ? { ...c1, portMappings: [{ protocol: "tcp", hostIP: "", hostPort: 9080, containerPort: 8080 }] } : c1, c2],
          policy: emptyPolicy(),
          hostEndpoints: [],
          ...(withUplink
            ? { uplink: { hostLink: uplinkHostLink(P, "a"), tenantLink: UPLINK_TENANT_LINK, hostAddr: "169.254.0.1/30", tenantAddr: "169.254.0.2/30", routes: [] } }
            : {}),
        },
      ],
      host: { natOutbound: withUplink },
    };
  };
  const table = async (ns: string, family: string, name: string) => (await exec.run(["nft", "list", "tables"], { netns: ns })).includes(`table ${family} ${name}`);

  before(async () => {
    ({ driver } = await testHost.start(["c1", "c2"]));
    await exec.run(["ip", "netns", "add", OUTSIDE]);
    await exec.run(["ip", "-n", HOST, "link", "add", "out0", "type", "veth", "peer", "name", "eth0", "netns", OUTSIDE]);
    await exec.run(["ip", "-n", HOST, "addr", "add", `${HOST_ADDRESS}/24`, "dev", "out0"]);
    await exec.run(["ip", "-n", HOST, "link", "set", "out0", "up"]);
    await exec.run(["ip", "-n", OUTSIDE, "addr", "add", `${OUTSIDE_ADDRESS}/24`, "dev", "eth0"]);
    await exec.run(["ip", "-n", OUTSIDE, "link", "set", "eth0", "up"]);
    await exec.run(["ip", "-n", OUTSIDE, "link", "set", "lo", "up"]);
    await startProbe(OUTSIDE, "serve-peer", 7000);
    await startProbe(OUTSIDE, "serve", "resolver", 53);
  });

  after(() => testHost.stop());

  it("containers reach the outside, NATed to the host's address", async () => {
    const report = await driver.reconcile(desired(), { full: true });
    assert.deepEqual(report.errors, []);
    assert.equal(await tcp(testHost.ns("c1"), OUTSIDE_ADDRESS, 7000), `reply ${HOST_ADDRESS}`);
    assert.equal(await tcp(testHost.ns("c2"), OUTSIDE_ADDRESS, 7000), `reply ${HOST_ADDRESS}`);
  });

  it("DNS queries to a resolver outside are answered by the tenant's DNS in the gateway namespace, UDP and TCP", async () => {
    await startProbe(TENANT_NS, "serve", "gw", 53);
    assert.deepEqual(await probe(testHost.ns("c1"), "udp", OUTSIDE_ADDRESS, 53, 3, 50), { sent: 3, received: 3, lost: 0, tags: ["gw"] });
    assert.equal(await tcp(testHost.ns("c2"), OUTSIDE_ADDRESS, 53), "reply gw");
    assert.equal(await tcp(testHost.ns("c1"), OUTSIDE_ADDRESS, 7000), `reply ${HOST_ADDRESS}`, "other ports still go out");
  });

  it("a published host port reaches its container from the outside", async () => {
    assert.equal(await tcp(OUTSIDE, HOST_ADDRESS, 9080), "reply c1");
    assert.equal(await tcp(OUTSIDE, HOST_ADDRESS, 9081), "refused", "a port nobody published: the host itself answers");
  });

  it("bridge mode: the networks stay apart although the gateway namespace forwards for the way out", async () => {
    assert.equal((await exec.run(["sysctl", "-n", "net.ipv4.ip_forward"], { netns: TENANT_NS })).trim(), "1");
    assert.equal(await ping(testHost.ns("c1"), "198.18.63.2"), false, "c1 (blue) → c2 (red)");
    assert.equal(await tcp(testHost.ns("c2"), "198.18.62.1", 8080), "timeout", "c2 (red) → c1 (blue)");
  });

  it("a second run changes nothing; neither does a restarted agent", async () => {
    assert.deepEqual(await driver.reconcile(desired(), { full: true }), { changes: [], errors: [] });
    assert.deepEqual(await testHost.newDriver().reconcile(desired(), { full: false }), { changes: [], errors: [] });
  });

  it("the uplink's agent-side end deleted behind the agent's back is made again by the next full run", async () => {
    await exec.run(["ip", "-n", HOST, "link", "del", uplinkHostLink(P, "a")]);
    const report = await driver.reconcile(desired(), { full: true });
    assert.deepEqual(report.errors, []);
    assert.ok(report.changes.some((c) => c.object.startsWith(`uplink ${uplinkHostLink(P, "a")} `)), JSON.stringify(report.changes));
    assert.equal(await tcp(OUTSIDE, HOST_ADDRESS, 9080), "reply c1");
  });

  it("a published port is refused by name for a tenant without a way out", () => {
    const noUplink = desired(false);
    noUplink.tenants[0]!.endpoints[0]!.portMappings = [{ protocol: "tcp", hostIP: "", hostPort: 9080, containerPort: 8080 }];
    assert.deepEqual(driver.check(noUplink), [
      { owner: { tenant: "a", network: "blue", endpoint: "blue-c1" }, message: "portMappings: host port 9080/tcp needs the tenant's uplink" },
    ]);
  });

  it("without the uplink: the way out, its NAT table and the host's table are gone; the outside is not reached", async () => {
    const report = await driver.reconcile(desired(false), { full: false });
    assert.deepEqual(report.errors, []);
    assert.equal((await exec.run(["ip", "-n", HOST, "-o", "link"])).includes(uplinkHostLink(P, "a")), false);
    assert.equal(await table(TENANT_NS, "ip", NAT_TABLE), false);
    assert.equal(await table(HOST, "inet", hostNftTable(P)), false);
    const r = await probe(testHost.ns("c1"), "tcp", OUTSIDE_ADDRESS, 7000, 1000);
    assert.notEqual(r.result, "reply");
    assert.equal(await tcp(testHost.ns("c1"), OUTSIDE_ADDRESS, 53), "reply gw", "DNS is still intercepted without a way out");
  });
});
