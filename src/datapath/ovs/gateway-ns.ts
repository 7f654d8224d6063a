// The side effects of the tenants' gateway namespaces (gateway.ts decides): reads what exists (`ip netns`,
// `ip -json addr` and the forwarding sysctl inside each wanted namespace) and carries out planGateways()'s steps
// through the process seam. sync() is idempotent: what is already right is only read.

import type { DatapathChange, DatapathError } from "../driver.js";
import { tenantNamespace } from "../names.js";
import { ProcessError, type Executor } from "../../lib/process.js";
import { nftTableTag } from "../linux/parse.js";
import {
  GATEWAY_NAMESPACE_KEY,
  GATEWAY_ROLE,
  planGateways,
  REFUSE_TABLE,
  type GatewayStep,
  type ObservedGatewayNamespace,
  type ObservedGateways,
  type WantedGatewayNamespace,
} from "./gateway.js";

export interface GatewayNamespacesOptions {
  /** Named namespace standing in for the agent's own (tests): the bridge sides of the veths live there. */
  hostNamespace?: string;
  /** The userspace datapath: the namespace sides send with tx checksum offload off, as containers do (driver.ts plumb). */
  netdev: boolean;
  /** ovs-vsctl with the driver's database. */
  vsctl: (args: string[]) => Promise<string>;
}

/** A gateway port on the bridge, as the driver observed it. */
export interface GatewayPort {
  name: string;
  /** external_ids GATEWAY_NAMESPACE_KEY. */
  namespace: string;
}

interface IpRoute {
  dst: string;
  dev?: string;
  gateway?: string;
  protocol?: string;
}

interface IpLink {
  ifname: string;
  address?: string;
  mtu: number;
  flags: string[];
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string }[];
}

export class GatewayNamespaces {
  constructor(
    private readonly executor: Executor,
    private readonly o: GatewayNamespacesOptions,
  ) {}

  private host(args: string[]): Promise<string> {
    return this.executor.run(["ip", ...(this.o.hostNamespace === undefined ? [] : ["-n", this.o.hostNamespace]), ...args]);
  }

  private inside(namespace: string, argv: string[]): Promise<string> {
    return this.executor.run(["ip", "netns", "exec", namespace, ...argv]);
  }

  /** The tag of the namespace's refuse table, null when it has none. */
  private async refuseTag(namespace: string): Promise<string | null> {
    try {
      return nftTableTag(await this.executor.run(["nft", "list", "table", "inet", REFUSE_TABLE], { netns: namespace }));
    } catch (err) {
      if (err instanceof ProcessError && /No such file|does not exist/.test(err.stderr)) return null;
      throw err;
    }
  }

  /** Every network namespace's name. */
  private async namespaces(): Promise<string[]> {
    const out = await this.executor.run(["ip", "-json", "netns", "list"]);
    return out.trim() === "" ? [] : (JSON.parse(out) as { name: string }[]).map((n) => n.name);
  }

  private async observeInside(namespace: string): Promise<ObservedGatewayNamespace> {
    const links = JSON.parse(await this.executor.run(["ip", "-n", namespace, "-json", "addr", "show"])) as IpLink[];
    const [v4, v6] = (await this.inside(namespace, ["sysctl", "-n", "net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"])).trim().split("\n");
    // Routes we made (a routed network's containers): not the kernel's own (connected subnets, link-local).
    const routes = [
      ...(JSON.parse(await this.executor.run(["ip", "-4", "-n", namespace, "-json", "route", "show"])) as IpRoute[]).map((r) => ({ ...r, length: 32 })),
      ...(JSON.parse(await this.executor.run(["ip", "-6", "-n", namespace, "-json", "route", "show"])) as IpRoute[]).map((r) => ({ ...r, length: 128 })),
    ].filter((r) => r.protocol !== "kernel" && r.dst !== "default" && r.gateway === undefined && r.dev !== undefined);
    const routesOf = (dev: string) => routes.filter((r) => r.dev === dev).map((r) => (r.dst.includes("/") ? r.dst : `${r.dst}/${r.length}`));
    return {
      forwarding: v4?.trim() === "1",
      forwarding6: v6?.trim() === "1",
      loUp: links.some((l) => l.ifname === "lo" && l.flags.includes("UP")),
      refuseTag: await this.refuseTag(namespace),
      links: links
        .filter((l) => l.ifname !== "lo")
        .map((l) => ({
          name: l.ifname,
          mac: l.address ?? "",
          mtu: l.mtu,
          up: l.flags.includes("UP"),
          addresses: (l.addr_info ?? []).filter((a) => a.family === "inet" || (a.family === "inet6" && a.scope !== "link")).map((a) => `${a.local}/${a.prefixlen}`),
          routes: routesOf(l.ifname),
        })),
    };
  }

  /** What exists of the wanted namespaces, and which other namespaces and gateway ports there are. */
  async observe(wanted: readonly WantedGatewayNamespace[], ports: readonly GatewayPort[]): Promise<ObservedGateways> {
    const namespaces = await this.namespaces();
    const inside = new Map<string, ObservedGatewayNamespace>();
    for (const ns of wanted.filter((ns) => namespaces.includes(ns.name))) inside.set(ns.name, await this.observeInside(ns.name));
    return { namespaces, inside, ports: [...ports] };
  }

  /**
   * Makes the gateway namespaces of `prefix` what `wanted` says (gateway.ts planGateways): only what differs is
   * changed, so a second run, or a restarted agent, only reads. A step that fails is reported and the others go on.
   */
  async sync(
    o: { prefix: string; bridge: string; wanted: readonly WantedGatewayNamespace[]; ports: readonly GatewayPort[]; frozen: readonly string[] },
    change: (action: DatapathChange["action"], object: string) => void,
    fail: (owner: DatapathError["owner"], objects: string[], err: unknown) => void,
  ): Promise<void> {
    let observed: ObservedGateways;
    try {
      observed = await this.observe(o.wanted, o.ports);
    } catch (err) {
      fail({}, ["gateway namespaces"], err);
      return;
    }
    const tenantOf = new Map(o.wanted.map((ns) => [ns.name, ns.tenant]));
    for (const step of planGateways(o.prefix, o.wanted, observed, o.frozen)) {
      const { action, object } = describe(step);
      try {
        await this.apply(o.bridge, step);
        change(action, object);
      } catch (err) {
        const tenant = "namespace" in step ? tenantOf.get(step.namespace) : undefined;
        fail(tenant === undefined ? {} : { tenant, ...(step.kind === "add-link" ? { network: step.link.network } : {}) }, [object], err);
      }
    }
  }

  private async apply(bridge: string, step: GatewayStep): Promise<void> {
    switch (step.kind) {
      case "add-namespace":
        await this.executor.run(["ip", "netns", "add", step.namespace]);
        return;
      case "lo-up":
        await this.executor.run(["ip", "-n", step.namespace, "link", "set", "lo", "up"]);
        return;
      case "add-link": {
        const { link, namespace } = step;
        // What is left of an earlier pair goes first (deleting either end deletes both).
        await this.o.vsctl(["--if-exists", "del-port", bridge, link.hostLink]);
        await this.host(["link", "del", link.hostLink]).catch(ignoreMissing);
        await this.executor.run(["ip", "-n", namespace, "link", "del", link.nsLink]).catch(ignoreMissing);
        const mtu = String(link.mtu);
        await this.host(["link", "add", link.hostLink, "mtu", mtu, "type", "veth", "peer", "name", link.nsLink, "address", link.mac, "mtu", mtu, "netns", namespace]);
        await this.host(["link", "set", link.hostLink, "up"]);
        for (const address of link.addresses) await this.executor.run(["ip", "-n", namespace, "addr", "add", address, "dev", link.nsLink, ...nodad(address)]);
        await this.executor.run(["ip", "-n", namespace, "link", "set", link.nsLink, "up"]);
        for (const route of link.routes) await this.executor.run(["ip", "-n", namespace, "route", "replace", route, "dev", link.nsLink]);
        if (this.o.netdev) await this.inside(namespace, ["ethtool", "-K", link.nsLink, "tx", "off"]);
        const ids = { "netplugin-role": GATEWAY_ROLE, [GATEWAY_NAMESPACE_KEY]: namespace, "netplugin-tenant": link.tenant, "netplugin-network": link.network };
        await this.o.vsctl(["add-port", bridge, link.hostLink, "--", "set", "interface", link.hostLink, ...Object.entries(ids).map(([k, v]) => `external_ids:${k}=${v}`)]);
        return;
      }
      case "add-address":
        await this.executor.run(["ip", "-n", step.namespace, "addr", "add", step.address, "dev", step.link, ...nodad(step.address)]);
        return;
      case "delete-address":
        await this.executor.run(["ip", "-n", step.namespace, "addr", "del", step.address, "dev", step.link]);
        return;
      case "add-route":
        await this.executor.run(["ip", "-n", step.namespace, "route", "replace", step.route, "dev", step.link]);
        return;
      case "delete-route":
        await this.executor.run(["ip", "-n", step.namespace, "route", "del", step.route, "dev", step.link]);
        return;
      case "set-forwarding":
        await this.inside(step.namespace, ["sysctl", "-q", "-w", `net.ipv4.ip_forward=${step.v4 ? 1 : 0}`, `net.ipv6.conf.all.forwarding=${step.v6 ? 1 : 0}`]);
        return;
      case "put-refuse-table":
        await this.executor.run(["nft", "-f", "-"], { netns: step.namespace, stdin: step.table.script });
        return;
      case "delete-refuse-table":
        await this.executor.run(["nft", "delete", "table", "inet", REFUSE_TABLE], { netns: step.namespace });
        return;
      case "delete-port":
        await this.o.vsctl(["--if-exists", "del-port", bridge, step.name]);
        await this.host(["link", "del", step.name]).catch(ignoreMissing);
        return;
      case "delete-namespace":
        await this.executor.run(["ip", "netns", "del", step.namespace]);
        return;
    }
  }

  /**
   * Removes every gateway namespace of `prefix` and the bridge sides of `ports` (the bridge itself is the
   * caller's). Returns what it removed. Does nothing, without error, where nothing is left.
   */
  async remove(prefix: string, ports: readonly GatewayPort[]): Promise<string[]> {
    const removed: string[] = [];
    for (const p of ports) {
      await this.host(["link", "del", p.name]).catch(() => undefined);
      removed.push(`port ${p.name}`);
    }
    for (const ns of (await this.namespaces()).filter((n) => n.startsWith(tenantNamespace(prefix, "")))) {
      await this.executor.run(["ip", "netns", "del", ns]).catch(() => undefined);
      removed.push(`namespace ${ns}`);
    }
    return removed;
  }
}

/** nodad for an IPv6 address: usable at once instead of after ~1 s of duplicate address detection. */
function nodad(address: string): string[] {
  return address.includes(":") ? ["nodad"] : [];
}

/** For deleting a link that may be gone already: rethrows any other failure. */
export function ignoreMissing(err: unknown): void {
  if (!(err instanceof ProcessError && /Cannot find device|does not exist/.test(err.stderr))) throw err;
}

/** The change a step makes, as the driver reports it. */
export function describe(step: GatewayStep): { action: DatapathChange["action"]; object: string } {
  switch (step.kind) {
    case "add-namespace":
      return { action: "create", object: `namespace ${step.namespace}` };
    case "lo-up":
      return { action: "update", object: `lo of namespace ${step.namespace}` };
    case "add-route":
      return { action: "create", object: `route ${step.route} dev ${step.link} in namespace ${step.namespace}` };
    case "delete-route":
      return { action: "delete", object: `route ${step.route} dev ${step.link} in namespace ${step.namespace}` };
    case "add-link":
      return { action: "create", object: `gateway port ${step.link.hostLink} (${step.link.addresses.join(", ")} in namespace ${step.namespace})` };
    case "add-address":
      return { action: "create", object: `address ${step.address} on ${step.link} in namespace ${step.namespace}` };
    case "delete-address":
      return { action: "delete", object: `address ${step.address} on ${step.link} in namespace ${step.namespace}` };
    case "set-forwarding":
      return { action: "update", object: `${forwardingText(step.v4, step.v6)} in namespace ${step.namespace}` };
    case "put-refuse-table":
      return { action: "update", object: `table inet ${REFUSE_TABLE} (connections to VIPs refused) in namespace ${step.namespace}` };
    case "delete-refuse-table":
      return { action: "delete", object: `table inet ${REFUSE_TABLE} in namespace ${step.namespace}` };
    case "delete-port":
      return { action: "delete", object: `gateway port ${step.name}` };
    case "delete-namespace":
      return { action: "delete", object: `namespace ${step.namespace}` };
  }
}

function forwardingText(v4: boolean, v6: boolean): string {
  const onOff = (on: boolean) => (on ? "on" : "off");
  return v4 === v6 ? `IPv4 and IPv6 forwarding ${onOff(v4)}` : `IPv4 forwarding ${onOff(v4)}, IPv6 forwarding ${onOff(v6)}`;
}
