// The bridge's ports of endpoints, as the OVS driver keeps them: read with what our external_ids say of them,
// and an endpoint's veth plumbed into one (its container side configured unless a runtime's), re-addressed when
// its DHCP lease is recorded, and taken away.

import type { Executor } from "../../lib/process.js";
import { failedBatchLines } from "../linux/tools.js";
import { GATEWAY_NAMESPACE_KEY } from "./gateway.js";
import { ENDPOINT_ID_KEY, ROLE_KEY } from "./render.js";
import type { OvsShapers } from "./shapers-tc.js";
import type { WantedPort } from "./wanted-port.js";

export interface ObservedPort {
  name: string;
  ofport: number;
  /** external_ids:netplugin-endpoint, "" on ports we did not make for an endpoint. */
  endpoint: string;
  /** external_ids:netplugin-role ("uplink": the host's interface as our trunk; "gateway": a gateway veth), or "". */
  role: string;
  /** external_ids:netplugin-namespace of a gateway port: the namespace of its veth's other end, or "". */
  namespace: string;
  /** external_ids:netplugin-tenant of an endpoint's port ("" on ports made before it was kept). */
  tenant: string;
  /**
   * external_ids:netplugin-ipv4 of an endpoint's port: the IPv4 address the driver put on the container side ("":
   * none, the endpoint waited for its DHCP lease), undefined where the driver does not configure that side (a
   * runtime's) or on ports made before it was kept.
   */
  ipv4: string | undefined;
}

/** The tenant an endpoint's port belongs to. */
const TENANT_KEY = "netplugin-tenant";
/** The IPv4 address the driver configured on the container side of an endpoint's veth (ObservedPort.ipv4). */
const IPV4_KEY = "netplugin-ipv4";

/** ovs-vsctl's JSON table format: {headings, data: [[cell, ...], ...]}; a cell may be ["map", [[k, v], ...]]. */
function parsePorts(json: string): ObservedPort[] {
  const doc = JSON.parse(json) as { headings: string[]; data: unknown[][] };
  const col = (name: string) => doc.headings.indexOf(name);
  return doc.data.map((row) => {
    const ids = row[col("external_ids")] as ["map", [string, string][]];
    const ofport = row[col("ofport")];
    return {
      name: String(row[col("name")]),
      ofport: typeof ofport === "number" ? ofport : -1,
      endpoint: ids[1].find(([k]) => k === ENDPOINT_ID_KEY)?.[1] ?? "",
      role: ids[1].find(([k]) => k === ROLE_KEY)?.[1] ?? "",
      tenant: ids[1].find(([k]) => k === TENANT_KEY)?.[1] ?? "",
      namespace: ids[1].find(([k]) => k === GATEWAY_NAMESPACE_KEY)?.[1] ?? "",
      ipv4: ids[1].find(([k]) => k === IPV4_KEY)?.[1],
    };
  });
}

export interface EndpointPortsOptions {
  executor: Executor;
  /** ovs-vsctl with the driver's database. */
  vsctl: (args: string[]) => Promise<string>;
  /** ip in the agent's namespace (or the one standing in for it). */
  ip: (args: string[], stdin?: string) => Promise<string>;
  datapathType: "system" | "netdev";
  shapers: OvsShapers;
}

export class EndpointPorts {
  constructor(private readonly o: EndpointPortsOptions) {}

  /** The `tag` of every port of the database that has one, by name. */
  async tags(): Promise<Map<string, number>> {
    const doc = JSON.parse(await this.o.vsctl(["--format=json", "--columns=name,tag", "list", "Port"])) as { data: [string, unknown][] };
    return new Map(doc.data.flatMap(([name, tag]) => (typeof tag === "number" ? [[name, tag] as const] : [])));
  }

  /**
   * The bridge's ports with their OpenFlow numbers and what our external_ids say of them. One ovs-vsctl for both
   * commands: it prints each one's output in turn, so the port names come first, one a line, and the interfaces'
   * table last, as one line of JSON.
   */
  async list(bridge: string): Promise<ObservedPort[]> {
    const out = await this.o.vsctl(["--format=json", "list-ports", bridge, "--", "--columns=name,ofport,external_ids", "list", "Interface"]);
    const lines = out.split("\n").filter(Boolean);
    const names = new Set(lines.slice(0, -1));
    return parsePorts(lines[lines.length - 1] ?? "").filter((p) => names.has(p.name));
  }

  /**
   * The endpoint's veth, its container side configured (unless the runtime's: Docker moves, names and configures
   * its side), its host side a port of the bridge. Few processes: this is most of a CNI ADD.
   */
  async plumb(bridge: string, w: WantedPort): Promise<void> {
    const e = w.endpoint;
    // First away with a half-made pair of an earlier failed run, in the same process: with -force ip goes on past
    // that line when there is none, and says which lines failed.
    const lines = [`link del ${w.name}`, `link add ${w.name} mtu ${e.mtu} type veth peer name ${e.ifname} address ${e.mac} mtu ${e.mtu} netns ${e.netns}`, `link set ${w.name} up`];
    await this.o.ip(["-force", "-batch", "-"], lines.join("\n") + "\n").catch((err: unknown) => {
      const failed = failedBatchLines(err);
      if (failed.length === 0 || failed.some((n) => n !== 1)) throw err;
    });
    const inside = (args: string[], stdin?: string) => this.o.executor.run(["nsenter", `--net=${e.netns}`, ...args], stdin === undefined ? {} : { stdin });
    if (e.containerSide !== "runtime") {
      // nodad: the IPv6 address is usable at once instead of after ~1 s of duplicate address detection. `replace`:
      // a container has one default route, on its first interface; one that another of its interfaces took while
      // it was the only one (a runtime attaching them in either order) moves here. No IPv4 address (nor its
      // default route) while the endpoint waits for its DHCP lease: its lease client asks on the interface, and
      // readdress() puts the address there once the agent has recorded it.
      const lines = [
        ...(e.ipv4 === "" ? [] : [`addr add ${e.ipv4} dev ${e.ifname}`]),
        ...(e.ipv6 === "" ? [] : [`addr add ${e.ipv6} dev ${e.ifname} nodad`]),
        `link set ${e.ifname} up`,
        ...(e.gateway === "" || e.ipv4 === "" ? [] : [`route replace default via ${e.gateway} dev ${e.ifname}`]),
        ...(e.ipv6 === "" || e.ipv6Gateway === "" ? [] : [`route replace default via ${e.ipv6Gateway} dev ${e.ifname}`]),
      ];
      await inside(["ip", "-batch", "-"], lines.join("\n") + "\n");
    }
    // The userspace datapath drops segments it cannot checksum, and TSO into a tunnel (OVS 3.1): the container
    // sends them whole, a runtime's side too (the setting moves with it). The kernel datapath needs no such change.
    if (this.o.datapathType === "netdev") await inside(["ethtool", "-K", e.ifname, "tx", "off"]);
    this.o.shapers.madeAnew(w.name);
    // qos: the bridge's linux-noop row, so ovs-vswitchd leaves the port's tbf (shapers.ts) alone.
    const qos = await this.o.shapers.noopQosOf(bridge);
    // What the driver put on the container side as its IPv4 address ("" while it waits for its lease): readdress().
    const ipv4 = e.containerSide === "runtime" ? [] : [`external_ids:${IPV4_KEY}="${e.ipv4}"`];
    const ids = [`external_ids:${ENDPOINT_ID_KEY}=${e.id}`, `external_ids:${TENANT_KEY}=${w.tenant}`, ...ipv4];
    await this.o.vsctl(["--may-exist", "add-port", bridge, w.name, `tag=${w.vlan}`, "--", "set", "interface", w.name, ...ids, "--", "set", "port", w.name, `qos=${qos}`]).catch((err: unknown) => {
      this.o.shapers.forgetNoopQos();
      throw err;
    });
  }

  /**
   * The container side of an endpoint's veth from IPv4 address `had` (what its port's external_ids say the driver
   * put there, "" for none) to the desired one, with the default route the address allows; then the port says so.
   * The interface, MAC and the rest stay.
   */
  async readdress(w: WantedPort, had: string): Promise<void> {
    const e = w.endpoint;
    const inside = (args: string[]) => this.o.executor.run(["nsenter", `--net=${e.netns}`, "ip", ...args]);
    // An old address already gone is no reason to stop.
    if (had !== "") await inside(["addr", "del", had, "dev", e.ifname]).catch(() => undefined);
    if (e.ipv4 !== "") await inside(["addr", "replace", e.ipv4, "dev", e.ifname]);
    if (e.ipv4 !== "" && e.gateway !== "") await inside(["route", "replace", "default", "via", e.gateway, "dev", e.ifname]);
    await this.o.vsctl(["set", "interface", w.name, `external_ids:${IPV4_KEY}="${e.ipv4}"`]);
  }

  async unplumb(bridge: string, name: string): Promise<void> {
    await this.o.vsctl(["--if-exists", "del-port", bridge, name]).catch(() => undefined);
    await this.o.ip(["link", "del", name]).catch(() => undefined);
  }
}
