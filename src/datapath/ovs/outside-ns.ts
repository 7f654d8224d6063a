// The side effects of the tenants' ways out on an OVS host (outside.ts decides): reads the uplinks' two ends,
// the gateway namespaces' default routes and NAT tables, and the agent namespace's table and forwarding, then
// carries out planOutside()'s steps through the process seam. sync() is idempotent: what is right is only read.

import type { DatapathChange, DatapathError } from "../driver.js";
import { nftTableTag } from "../linux/parse.js";
import { HOST_TABLE_FAMILY, NAT_TABLE, ROUTE6_TABLE, UPLINK_HOST_LL, UPLINK_TENANT_LL, uplinkHostPattern } from "../linux/renderOverlay.js";
import { ProcessError, type Executor } from "../../lib/process.js";
import { ignoreMissing } from "./gateway-ns.js";
import { DNS_TABLE, planOutside, type ObservedOutside, type ObservedRoute, type ObservedUplinkEnd, type ObservedWayOutNamespace, type OutsideStep, type WantedOutside } from "./outside.js";

export interface OutsideOptions {
  /** Named namespace standing in for the agent's own (tests, simulated hosts). */
  hostNamespace?: string;
}

interface IpAddr {
  ifname: string;
  flags: string[];
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
}

function endOf(l: IpAddr): ObservedUplinkEnd {
  const of = (family: string) => (l.addr_info ?? []).filter((a) => a.family === family).map((a) => `${a.local}/${a.prefixlen}`);
  return { name: l.ifname, up: l.flags.includes("UP"), addresses: of("inet"), linkLocal: of("inet6").filter((a) => a.startsWith("fe80:")) };
}

/** `ip -json route` entries through `dev` with a next hop, as "dst/len" (a host route shows its address alone). */
function routesOf(routes: IpRoute[], dev: string, hostLength: number): ObservedRoute[] {
  return routes
    .filter((r) => r.dev === dev && r.gateway !== undefined && r.dst !== "default")
    .map((r) => ({ dst: r.dst.includes("/") ? r.dst : `${r.dst}/${hostLength}`, via: r.gateway! }));
}

export class OutsideNamespaces {
  constructor(
    private readonly executor: Executor,
    private readonly o: OutsideOptions,
  ) {}

  /** A command in the agent's namespace. */
  private host(argv: string[], stdin?: string): Promise<string> {
    const netns = this.o.hostNamespace;
    return this.executor.run(argv, { ...(netns === undefined ? {} : { netns }), ...(stdin === undefined ? {} : { stdin }) });
  }

  private inside(namespace: string, argv: string[], stdin?: string): Promise<string> {
    return this.executor.run(argv, { netns: namespace, ...(stdin === undefined ? {} : { stdin }) });
  }

  /** The table's tag, or null when the namespace has no such table. */
  private async tag(run: (argv: string[]) => Promise<string>, family: string, name: string): Promise<string | null> {
    try {
      return nftTableTag(await run(["nft", "list", "table", family, name]));
    } catch (err) {
      if (err instanceof ProcessError && /No such file|does not exist/.test(err.stderr)) return null;
      throw err;
    }
  }

  async observe(wanted: WantedOutside, gatewayNamespaces: readonly string[]): Promise<ObservedOutside> {
    const pattern = uplinkHostPattern(wanted.prefix);
    const hostLinks = (JSON.parse(await this.host(["ip", "-json", "addr", "show"])) as IpAddr[]).filter((l) => l.ifname.startsWith(pattern)).map(endOf);
    const namespaces = new Map<string, ObservedWayOutNamespace>();
    const list = (await this.executor.run(["ip", "-json", "netns", "list"])).trim();
    const existing = new Set(list === "" ? [] : (JSON.parse(list) as { name: string }[]).map((n) => n.name));
    for (const namespace of gatewayNamespaces.filter((n) => existing.has(n))) {
      const wayOut = wanted.wayOuts.find((w) => w.namespace === namespace);
      const tenantLink = wayOut?.uplink.tenantLink;
      const links = JSON.parse(await this.executor.run(["ip", "-n", namespace, "-json", "addr", "show"])) as IpAddr[];
      const link = links.find((l) => l.ifname === tenantLink);
      const defaults = async (family: "-4" | "-6") =>
        tenantLink === undefined || link === undefined
          ? []
          : (JSON.parse(await this.executor.run(["ip", family, "-n", namespace, "-json", "route", "show", "default"])) as IpRoute[])
              .filter((r) => r.dev === tenantLink && r.gateway !== undefined)
              .map((r) => r.gateway!);
      namespaces.set(namespace, {
        ...(link === undefined ? {} : { link: endOf(link) }),
        defaultVia: await defaults("-4"),
        default6Via: wayOut?.uplink.ipv6 === true ? await defaults("-6") : [],
        natTag: await this.tag((argv) => this.inside(namespace, argv), "ip", NAT_TABLE),
        route6Tag: await this.tag((argv) => this.inside(namespace, argv), "ip6", ROUTE6_TABLE),
        dnsTag: await this.tag((argv) => this.inside(namespace, argv), "ip", DNS_TABLE),
      });
    }
    const hostRoutes = new Map<string, ObservedRoute[]>();
    if (wanted.wayOuts.some((w) => w.uplink.routes.length > 0) || hostLinks.length > 0) {
      const v4 = JSON.parse(await this.host(["ip", "-4", "-json", "route", "show"])) as IpRoute[];
      const v6 = JSON.parse(await this.host(["ip", "-6", "-json", "route", "show"])) as IpRoute[];
      for (const l of hostLinks) hostRoutes.set(l.name, [...routesOf(v4, l.name, 32), ...routesOf(v6, l.name, 128)]);
    }
    const localnet = new Map<string, boolean>();
    for (const w of wanted.wayOuts.filter((w) => hostLinks.some((l) => l.name === w.uplink.hostLink))) {
      const key = `net.ipv4.conf.${w.uplink.hostLink}.route_localnet`;
      localnet.set(w.uplink.hostLink, (await this.host(["sysctl", "-n", key])).trim() === "1");
    }
    return {
      hostLinks,
      namespaces,
      hostTag: await this.tag((argv) => this.host(argv), HOST_TABLE_FAMILY, wanted.hostTableName),
      forwarding: (await this.host(["sysctl", "-n", "net.ipv4.ip_forward"])).trim() === "1",
      forwarding6: (await this.host(["sysctl", "-n", "net.ipv6.conf.all.forwarding"])).trim() === "1",
      hostRoutes,
      localnet,
    };
  }

  /**
   * Makes the ways out what `wanted` says (outside.ts planOutside): only what differs is changed. A step that
   * fails is reported and the others go on. Runs after the gateway namespaces exist (gateway-ns.ts).
   */
  async sync(
    o: { wanted: WantedOutside; gatewayNamespaces: readonly string[]; frozen: readonly string[] },
    change: (action: DatapathChange["action"], object: string) => void,
    fail: (owner: DatapathError["owner"], objects: string[], err: unknown) => void,
  ): Promise<void> {
    let observed: ObservedOutside;
    try {
      observed = await this.observe(o.wanted, o.gatewayNamespaces);
    } catch (err) {
      fail({}, ["ways out"], err);
      return;
    }
    const tenantOf = new Map(o.wanted.wayOuts.map((w) => [w.namespace, w.tenant]));
    for (const step of planOutside(o.wanted, observed, o.frozen)) {
      const { action, object } = describeOutside(step);
      try {
        await this.apply(step);
        change(action, object);
      } catch (err) {
        const tenant = "namespace" in step ? tenantOf.get(step.namespace) : undefined;
        fail(tenant === undefined ? {} : { tenant }, [object], err);
      }
    }
  }

  private async apply(step: OutsideStep): Promise<void> {
    switch (step.kind) {
      case "host-forwarding":
        await this.host(["sysctl", "-q", "-w", step.family === 4 ? "net.ipv4.ip_forward=1" : "net.ipv6.conf.all.forwarding=1"]);
        return;
      case "link-local":
        await this.host(["ip", "addr", "replace", `${UPLINK_HOST_LL}/64`, "dev", step.uplink.hostLink, "nodad"]);
        await this.inside(step.namespace, ["ip", "addr", "replace", `${UPLINK_TENANT_LL}/64`, "dev", step.uplink.tenantLink, "nodad"]);
        return;
      case "host-route":
        // `replace`: a BGP-learned route for an address that has just moved here is taken over.
        await this.host(["ip", "route", "replace", step.dst, "via", step.via, "dev", step.hostLink]);
        return;
      case "delete-host-route":
        await this.host(["ip", "route", "del", step.dst, "via", step.via, "dev", step.hostLink]);
        return;
      case "put-route6":
        await this.inside(step.namespace, ["nft", "-f", "-"], step.table.script);
        return;
      case "delete-route6":
        await this.inside(step.namespace, ["nft", "delete", "table", "ip6", ROUTE6_TABLE]);
        return;
      case "delete-uplink":
        await this.host(["ip", "link", "del", step.hostLink]).catch(ignoreMissing);
        return;
      case "add-uplink": {
        const up = step.uplink;
        // What is left of an earlier pair goes first (deleting either end deletes both).
        await this.host(["ip", "link", "del", up.hostLink]).catch(ignoreMissing);
        await this.inside(step.namespace, ["ip", "link", "del", up.tenantLink]).catch(ignoreMissing);
        await this.host(["ip", "link", "add", up.hostLink, "type", "veth", "peer", "name", up.tenantLink, "netns", step.namespace]);
        await this.host(["ip", "addr", "add", up.hostAddr, "dev", up.hostLink]);
        await this.host(["ip", "link", "set", up.hostLink, "up"]);
        await this.inside(step.namespace, ["ip", "addr", "add", up.tenantAddr, "dev", up.tenantLink]);
        await this.inside(step.namespace, ["ip", "link", "set", up.tenantLink, "up"]);
        return;
      }
      case "default-route":
        await this.inside(step.namespace, step.family === 4
          ? ["ip", "route", "replace", "default", "via", step.uplink.gateway, "dev", step.uplink.tenantLink]
          : ["ip", "-6", "route", "replace", "default", "via", UPLINK_HOST_LL, "dev", step.uplink.tenantLink]);
        return;
      case "localnet":
        await this.host(["sysctl", "-q", "-w", `net.ipv4.conf.${step.hostLink}.route_localnet=${step.on ? 1 : 0}`]);
        return;
      case "put-nat":
        await this.inside(step.namespace, ["nft", "-f", "-"], step.table.script);
        return;
      case "delete-nat":
        await this.inside(step.namespace, ["nft", "delete", "table", "ip", NAT_TABLE]);
        return;
      case "put-host-table":
        await this.host(["nft", "-f", "-"], step.table.script);
        return;
      case "put-dns":
        await this.inside(step.namespace, ["nft", "-f", "-"], step.table.script);
        return;
      case "delete-dns":
        await this.inside(step.namespace, ["nft", "delete", "table", "ip", DNS_TABLE]);
        return;
      case "delete-host-table":
        await this.host(["nft", "delete", "table", HOST_TABLE_FAMILY, step.name]);
        return;
    }
  }

  /** Removes the prefix's agent-side uplink ends and its table in the agent's namespace; returns what it removed. */
  async remove(prefix: string, hostTableName: string): Promise<string[]> {
    const removed: string[] = [];
    const links = JSON.parse(await this.host(["ip", "-json", "link", "show"])) as { ifname: string }[];
    for (const l of links.filter((l) => l.ifname.startsWith(uplinkHostPattern(prefix)))) {
      await this.host(["ip", "link", "del", l.ifname]).catch(() => undefined);
      removed.push(`uplink ${l.ifname}`);
    }
    if ((await this.tag((argv) => this.host(argv), HOST_TABLE_FAMILY, hostTableName)) !== null) {
      await this.host(["nft", "delete", "table", HOST_TABLE_FAMILY, hostTableName]);
      removed.push(`nft table ${HOST_TABLE_FAMILY} ${hostTableName}`);
    }
    return removed;
  }
}

/** The change a step makes, as the driver reports it. */
export function describeOutside(step: OutsideStep): { action: DatapathChange["action"]; object: string } {
  switch (step.kind) {
    case "host-forwarding":
      return { action: "update", object: `IPv${step.family} forwarding on in the agent's namespace` };
    case "link-local":
      return { action: "create", object: `link-local addresses of uplink ${step.uplink.hostLink}` };
    case "host-route":
      return { action: "create", object: `route ${step.dst} via ${step.via} dev ${step.hostLink}` };
    case "delete-host-route":
      return { action: "delete", object: `route ${step.dst} via ${step.via} dev ${step.hostLink}` };
    case "put-route6":
      return { action: "update", object: `nft table ip6 ${ROUTE6_TABLE} in namespace ${step.namespace}` };
    case "delete-route6":
      return { action: "delete", object: `nft table ip6 ${ROUTE6_TABLE} in namespace ${step.namespace}` };
    case "delete-uplink":
      return { action: "delete", object: `uplink ${step.hostLink}` };
    case "add-uplink":
      return { action: "create", object: `uplink ${step.uplink.hostLink} (${step.uplink.hostAddr} to ${step.uplink.tenantAddr} in namespace ${step.namespace})` };
    case "default-route":
      return { action: "update", object: `default route via ${step.family === 4 ? step.uplink.gateway : UPLINK_HOST_LL} in namespace ${step.namespace}` };
    case "localnet":
      return { action: "update", object: `route_localnet ${step.on ? "on" : "off"} on ${step.hostLink}` };
    case "put-nat":
      return { action: "update", object: `nft table ip ${NAT_TABLE} in namespace ${step.namespace}` };
    case "delete-nat":
      return { action: "delete", object: `nft table ip ${NAT_TABLE} in namespace ${step.namespace}` };
    case "put-host-table":
      return { action: "update", object: `nft table ${step.table.family} ${step.table.name}` };
    case "put-dns":
      return { action: "update", object: `nft table ip ${DNS_TABLE} in namespace ${step.namespace}` };
    case "delete-dns":
      return { action: "delete", object: `nft table ip ${DNS_TABLE} in namespace ${step.namespace}` };
    case "delete-host-table":
      return { action: "delete", object: `nft table ${HOST_TABLE_FAMILY} ${step.name}` };
  }
}
