import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import { fakeNetmaster, runNetctl, type FakeNetmaster } from "./testing/fakeNetmaster.js";

/** A table row padded by hand: each cell but the last is padded to its given column width. */
function line(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i < widths.length ? c.padEnd(widths[i] as number) : c)).join("") + "\n";
}

describe("netctl network", () => {
  let fake: FakeNetmaster;
  const netctl = (...argv: string[]) => runNetctl(argv, { NETMASTER: fake.url });
  const networks = [
    {
      key: "default:n1",
      tenantName: "default",
      networkName: "n1",
      nwType: "data",
      encap: "vxlan",
      pktTag: 1,
      subnet: "10.1.1.0/24",
      gateway: "10.1.1.1",
    },
    { key: "blue:b1", tenantName: "blue", networkName: "b1", nwType: "data", encap: "vxlan", subnet: "10.9.0.0/16" },
    {
      key: "default:infra-net",
      tenantName: "default",
      networkName: "infra-net",
      nwType: "infra",
      encap: "vlan",
      pktTag: 100,
      subnet: "10.2.0.0/16",
      ipv6Subnet: "2001:db8::/64",
      ipv6Gateway: "2001:db8::1",
      cfgdTag: "t1",
    },
  ];
  beforeEach(async () => {
    fake = await fakeNetmaster({
      "GET /api/v1/tenants/default/": { json: { key: "default", tenantName: "default" } },
      "GET /api/v1/networks/": { json: networks },
    });
  });
  afterEach(() => fake.close());

  it("create sends every flag, short and Go-style, in Contiv's field names", async () => {
    const r = await netctl(
      "network", "create", "-t", "blue", "-n", "infra", "-e", "vlan", "-p", "100", "-s", "10.1.1.0/24", "-g", "10.1.1.1",
      "-s6", "2001:db8::/64", "-g6", "2001:db8::1", "-tag", "mytag", "n1",
    );
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "Creating network blue:n1\n");
    assert.deepEqual(fake.bodyOf("POST /api/v1/networks/blue:n1/"), {
      tenantName: "blue",
      networkName: "n1",
      encap: "vlan",
      subnet: "10.1.1.0/24",
      gateway: "10.1.1.1",
      ipv6Subnet: "2001:db8::/64",
      ipv6Gateway: "2001:db8::1",
      pktTag: 100,
      nwType: "infra",
      cfgdTag: "mytag",
    });
  });

  it("create uses Contiv's defaults and omits empty fields", async () => {
    const r = await netctl("net", "create", "--subnet=10.1.1.0/24", "n1");
    assert.equal(r.code, 0);
    assert.deepEqual(fake.bodyOf("POST /api/v1/networks/default:n1/"), {
      tenantName: "default",
      networkName: "n1",
      encap: "vxlan",
      subnet: "10.1.1.0/24",
      nwType: "data",
    });
  });

  it("create sends the attach mode and its interface", async () => {
    const r = await netctl("net", "create", "-e", "vlan", "-s", "10.1.1.0/24", "--attach-mode", "macvlan", "--uplink-if", "eth1", "m1");
    assert.equal(r.code, 0, r.stderr);
    const body = fake.bodyOf("POST /api/v1/networks/default:m1/") as Record<string, unknown>;
    assert.equal(body["attachMode"], "macvlan");
    assert.equal(body["uplinkIf"], "eth1");
    assert.equal(body["device"], undefined);
    const d = await netctl("net", "create", "-e", "vlan", "-s", "10.1.2.0/24", "--attach-mode=host-device", "--device=ens1f0v2", "d1");
    assert.equal(d.code, 0, d.stderr);
    assert.equal((fake.bodyOf("POST /api/v1/networks/default:d1/") as Record<string, unknown>)["device"], "ens1f0v2");
  });

  it("long forms work too", async () => {
    const r = await netctl(
      "network", "create", "--tenant", "t", "--nw-type", "data", "--encap", "vxlan", "--pkt-tag", "5", "--subnet", "10.0.0.0/8",
      "--gateway", "10.0.0.1", "--subnetv6", "fd00::/64", "--gatewayv6", "fd00::1", "--nw-tag", "x", "n",
    );
    assert.equal(r.code, 0, r.stderr);
    const body = fake.bodyOf("POST /api/v1/networks/t:n/") as Record<string, unknown>;
    assert.equal(body["ipv6Subnet"], "fd00::/64");
    assert.equal(body["cfgdTag"], "x");
    assert.equal(body["pktTag"], 5);
  });

  it("--ipam dhcp is sent as the network's ipam; without it the field is left to netmaster's default", async () => {
    assert.equal((await netctl("network", "create", "-e", "vlan", "-s", "10.2.0.0/24", "--ipam", "dhcp", "d")).code, 0);
    assert.equal((fake.bodyOf("POST /api/v1/networks/default:d/") as Record<string, unknown>)["ipam"], "dhcp");
    assert.equal((await netctl("network", "create", "-s", "10.3.0.0/24", "m")).code, 0);
    assert.equal("ipam" in (fake.bodyOf("POST /api/v1/networks/default:m/") as Record<string, unknown>), false);
  });

  const usageCases: Array<{ argv: string[]; message: string }> = [
    { argv: ["network", "create", "n1"], message: "Subnet is required" },
    {
      argv: ["network", "create", "-s", "10.1.1.0/24", "-g", "10.1.1", "n1"],
      message: "Invalid gateway - Enter in A.B.C.D format",
    },
    { argv: ["network", "create", "-s", "10.1.1.0/24", "-g6", "fe80::zz", "n1"], message: "Invalid IPv6 gateway" },
    { argv: ["network", "create", "-s", "10.1.1.0/24"], message: "Network name required" },
    { argv: ["network", "create", "-s", "10.1.1.0/24", "a", "b"], message: "Network name required" },
    { argv: ["network", "rm"], message: "Network name required" },
    { argv: ["network", "inspect"], message: "Network name required" },
    { argv: ["network", "ls", "x"], message: "More arguments than required" },
    {
      argv: ["network", "create", "-s", "10.1.1.0/24", "-p", "ten", "n1"],
      message: "Option '-p, --pkt-tag <tag>' argument 'ten' is invalid. Expected an integer.",
    },
  ];
  for (const c of usageCases) {
    it(`usage error: ${c.message} (${c.argv.slice(1).join(" ")})`, async () => {
      const r = await netctl(...c.argv);
      assert.equal(r.code, 1);
      assert.equal(r.stderr.split("\n")[0], `Error: ${c.message}`);
      assert.deepEqual(fake.calls(), []);
    });
  }

  it("ls checks the tenant, then prints its networks in Contiv's table", async () => {
    const r = await netctl("network", "ls");
    assert.equal(r.code, 0);
    assert.deepEqual(fake.calls(), ["GET /api/v1/tenants/default/", "GET /api/v1/networks/"]);
    const w = [9, 11, 9, 12, 12, 13, 10, 15, 13];
    assert.equal(
      r.stdout,
      line(["Tenant", "Network", "Nw Type", "Encap type", "Packet tag", "Subnet", "Gateway", "IPv6Subnet", "IPv6Gateway", "Cfgd Tag "], w) +
        line(["------", "-------", "-------", "----------", "----------", "-------", "------", "----------", "-----------", "---------"], w) +
        line(["default", "n1", "data", "vxlan", "1", "10.1.1.0/24", "10.1.1.1", "", "", ""], w) +
        line(["default", "infra-net", "infra", "vlan", "100", "10.2.0.0/16", "", "2001:db8::/64", "2001:db8::1", "t1"], w),
    );
  });

  it("ls -a lists every tenant's networks; -q names only; -j JSON", async () => {
    assert.equal((await netctl("net", "list", "-a", "-q")).stdout, "n1\nb1\ninfra-net\n");
    assert.equal((await netctl("net", "ls", "-q")).stdout, "n1\ninfra-net\n");
    assert.equal((await netctl("net", "ls", "-j")).stdout, JSON.stringify([networks[0], networks[2]], null, 2) + "\n");
    assert.equal((await netctl("net", "ls", "-aj")).stdout, JSON.stringify(networks, null, 2) + "\n");
  });

  it("ls of an unknown tenant exits 3 with the server's message", async () => {
    fake.on("GET /api/v1/tenants/nope/", { status: 404, text: 'tenant "nope" not found' });
    const r = await netctl("network", "ls", "-t", "nope");
    assert.equal(r.code, 3);
    assert.equal(r.stderr, 'Error: tenant "nope" not found\n');
    assert.deepEqual(fake.calls(), ["GET /api/v1/tenants/nope/"]);
  });

  it("rm deletes tenant:network; inspect prints the inspect object", async () => {
    const rm = await netctl("net", "delete", "-t", "blue", "b1");
    assert.equal(rm.stdout, "Deleting network blue:b1\n");
    fake.on("GET /api/v1/inspect/networks/default:n1/", { json: { Config: networks[0], Oper: { pktTag: 1 } } });
    const ins = await netctl("net", "inspect", "n1");
    assert.equal(ins.stdout, JSON.stringify({ Config: networks[0], Oper: { pktTag: 1 } }, null, 2) + "\n");
    assert.deepEqual(fake.calls(), ["DELETE /api/v1/networks/blue:b1/", "GET /api/v1/inspect/networks/default:n1/"]);
  });
});
