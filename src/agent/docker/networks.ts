// libnetwork's CreateNetwork and DeleteNetwork: what each Docker network of
// this host stands for at netmaster.
//
// A network maps an existing network or group when its IPAM pool did (the
// pool request named a contiv-tag, or tenant/network/group options), or when
// the driver options (-o) do. Otherwise it is a new network, which netmaster
// makes from the pools this host was given. Its name should be Docker's name
// for it (so that netctl and the other hosts' dockers show the same name),
// but dockerd stores a network only after CreateNetwork returns, so no plugin
// call can learn it: unless -o network=NAME (or --ipam-opt network=NAME) gave
// it, the network is made right after, under the name the Engine API then
// reports ("<name>" or "<name>/<tenant>", Contiv's convention), or
// "docker-<short id>" when that name cannot be used. Everything that can fail
// is checked before: overlaps at RequestPool, tenant and options here.
// Addresses and endpoints of the network wait for it (ready()).

import { ConflictError, NotFoundError, UpstreamError, ValidationError } from "../../lib/errors.js";
import { NAME } from "../../model/common.js";
import type { EndpointGroup, Network } from "../../model/index.js";
import { objectKey, objectPrefix } from "../../contract/keys.js";
import { withoutLength } from "../../lib/ip.js";
import { sleep, stringOptions, type DockerContext } from "./context.js";
import type { NetworkRecord, PoolRecord } from "./state.js";
import { GENERIC_OPTIONS, type CreateNetwork } from "./wire.js";

const NAME_WAIT_MS = 20_000;

interface Target {
  tenant: string;
  network: string;
  group: string;
}

export class NetworkTracker {
  private readonly naming = new Map<string, Promise<void>>();
  /** Networks DeleteNetwork is removing: their naming stops. */
  private readonly deleting = new Set<string>();

  constructor(private readonly c: DockerContext) {}

  /** Networks whose making was interrupted by a restart are made now. */
  resume(): void {
    for (const rec of this.c.store.networks.values()) if (rec.pending) this.startNaming(rec.id);
  }

  /** The network record, once its netmaster network exists. Throws NotFound/Conflict with a message for Docker. */
  async ready(networkId: string): Promise<NetworkRecord> {
    let rec = this.c.store.networks.get(networkId);
    if (!rec) throw new NotFoundError(`Docker network ${networkId.slice(0, 12)} is not a network of netplugin on host ${this.c.host}`);
    if (rec.pending) {
      this.startNaming(networkId);
      await this.naming.get(networkId);
      rec = this.c.store.networks.get(networkId);
      if (!rec) throw new NotFoundError(`Docker network ${networkId.slice(0, 12)} was removed`);
    }
    if (rec.error) throw new ConflictError(`Docker network ${networkId.slice(0, 12)} has no network at netmaster: ${rec.error}`);
    if (rec.pending) throw new UpstreamError(`Docker network ${networkId.slice(0, 12)} is not made at netmaster yet`);
    return rec;
  }

  private targetOf(options: Record<string, string>): Target | undefined {
    const view = this.c.view;
    const tag = options["contiv-tag"] ?? "";
    if (tag) {
      for (const [, g] of view.list<EndpointGroup>(objectPrefix("endpointGroup"))) {
        if ((g.cfgdTag || `${g.groupName}.${g.tenantName}`) === tag) return { tenant: g.tenantName, network: g.networkName, group: g.groupName };
      }
      for (const [, n] of view.list<Network>(objectPrefix("network"))) {
        if ((n.cfgdTag || `${n.networkName}.${n.tenantName}`) === tag) return { tenant: n.tenantName, network: n.networkName, group: "" };
      }
      throw new NotFoundError(`Cannot find a network or group with contiv-tag "${tag}"`);
    }
    const tenant = options["tenant"] || "default";
    if (options["group"]) {
      const g = view.get<EndpointGroup>(objectKey("endpointGroup", `${tenant}:${options["group"]}`));
      if (!g) throw new NotFoundError(`EndpointGroup ${options["group"]} not found in tenant ${tenant}`);
      return { tenant, network: g.networkName, group: g.groupName };
    }
    if (options["network"] && view.get<Network>(objectKey("network", `${tenant}:${options["network"]}`))) {
      return { tenant, network: options["network"], group: "" };
    }
    return undefined;
  }

  private unboundPool(cidr: string | undefined, v6: boolean): PoolRecord | undefined {
    if (!cidr) return undefined;
    const candidates = [...this.c.store.pools.values()].filter((p) => p.v6 === v6 && p.pool === cidr && p.networkId === "");
    return candidates[candidates.length - 1];
  }

  async create(req: CreateNetwork): Promise<Record<string, unknown>> {
    await this.c.synced(); // tenants, networks and groups are looked up in netmaster's state
    const id = req.NetworkID;
    if (this.c.store.networks.has(id)) return {}; // a retried call
    const generic = stringOptions(req.Options[GENERIC_OPTIONS]);
    const encap = generic["encap"] ?? "vxlan";
    if (encap !== "vxlan" && encap !== "vlan") throw new ValidationError(`Cannot create network: encap "${encap}" is neither vxlan nor vlan`);
    const pktTag = Number(generic["pkt-tag"] ?? 0);
    if (!Number.isInteger(pktTag) || pktTag < 0) throw new ValidationError(`Cannot create network: pkt-tag "${generic["pkt-tag"]}" is not a number`);
    const v4 = req.IPv4Data[0];
    const v6 = req.IPv6Data[0];
    const pool4 = this.unboundPool(v4?.Pool, false);
    const pool6 = this.unboundPool(v6?.Pool, true);
    const pools = [pool4, pool6].filter((p): p is PoolRecord => p !== undefined);
    const named = generic["contiv-tag"] || generic["network"] || generic["group"] ? this.targetOf(generic) : undefined;

    let rec: NetworkRecord;
    if (pool4?.mode === "map" || (!pool4 && named)) {
      const target = pool4?.mode === "map" ? { tenant: pool4.tenant, network: pool4.network, group: pool4.group } : named!;
      const wrong = (what: string) => new ValidationError(`Cannot create network: ${what} maps ${target.network}${target.group ? `/${target.group}` : ""} of tenant ${target.tenant}`);
      if (named && (named.tenant !== target.tenant || named.network !== target.network || named.group !== target.group)) {
        throw wrong(`the driver options name ${named.network}${named.group ? `/${named.group}` : ""} of tenant ${named.tenant} but the IPAM pool`);
      }
      if (generic["tenant"] && generic["tenant"] !== target.tenant) throw wrong(`-o tenant=${generic["tenant"]} but the IPAM pool`);
      if (pool6 && (pool6.mode !== "map" || pool6.network !== target.network || pool6.tenant !== target.tenant)) {
        throw wrong("the IPv6 pool is not the same network's, the IPv4 pool");
      }
      rec = { id, ...target, owned: false, poolIds: pools.map((p) => p.poolId), error: "", synced: false };
    } else {
      if (pool6 && pool6.mode !== "create") throw new ValidationError("Cannot create network: its IPv6 pool maps an existing network, its IPv4 pool does not");
      if (!v4?.Pool) throw new ValidationError("Cannot create network: Docker gave no IPv4 subnet");
      const tenant = generic["tenant"] || pool4?.tenant || "default";
      if (!this.c.view.get(objectKey("tenant", tenant))) throw new NotFoundError(`Cannot create network: tenant ${tenant} not found`);
      const name = generic["network"] || pool4?.network || "";
      rec = {
        id,
        tenant,
        network: "",
        group: "",
        owned: true,
        poolIds: pools.map((p) => p.poolId),
        error: "",
        synced: false,
        pending: {
          name,
          encap,
          pktTag,
          // Only without our pools (another IPAM driver) do Docker's addresses make the network.
          subnet: pool4 ? "" : v4.Pool,
          gateway: pool4 ? "" : withoutLength(v4.Gateway),
          ipv6Subnet: pool6 || !v6 ? "" : v6.Pool,
          ipv6Gateway: pool6 || !v6 ? "" : withoutLength(v6.Gateway),
        },
      };
      if (name) {
        // Named by an option: made now, so that any error reaches `docker network create`.
        await this.make(rec, name, tenant);
        delete rec.pending;
        rec.network = name;
      }
    }
    for (const p of pools) p.networkId = id;
    this.c.store.networks.set(id, rec);
    this.c.store.save();
    if (rec.pending) this.startNaming(id);
    this.c.log.info({ op: "CreateNetwork", dockerNetwork: id.slice(0, 12), tenant: rec.tenant, network: rec.network || "(naming)", group: rec.group, owned: rec.owned }, "docker network created");
    return {};
  }

  private make(rec: NetworkRecord, name: string, tenant: string): Promise<unknown> {
    const p = rec.pending!;
    const poolIds = rec.poolIds.filter((id) => this.c.store.pools.get(id)?.mode === "create");
    return this.c.master.request("POST", "/api/v1/agent/docker/networks", {
      host: this.c.host,
      name,
      tenant,
      encap: p.encap,
      pktTag: p.pktTag,
      poolIds,
      subnet: p.subnet,
      gateway: p.gateway,
      ipv6Subnet: p.ipv6Subnet,
      ipv6Gateway: p.ipv6Gateway,
    });
  }

  private startNaming(id: string): void {
    if (this.naming.has(id)) return;
    const run = this.nameAndMake(id)
      .catch((err: Error) => this.c.log.error({ dockerNetwork: id.slice(0, 12), err: err.message }, "cannot make network for docker"))
      .finally(() => this.naming.delete(id));
    this.naming.set(id, run);
  }

  /** Learns Docker's name for the network from the Engine API, then makes the network at netmaster. */
  private async nameAndMake(id: string): Promise<void> {
    // Resumed at start too: the tenant and name checks below read netmaster's state.
    await this.c.synced();
    let dockerName = "";
    const deadline = Date.now() + NAME_WAIT_MS;
    while (this.c.engine.present && Date.now() < deadline && !this.deleting.has(id)) {
      const found = await this.c.engine.network(id).catch(() => undefined);
      if (found) {
        dockerName = found.Name;
        break;
      }
      await sleep(100);
    }
    const rec = this.c.store.networks.get(id);
    if (!rec?.pending || this.deleting.has(id)) return;
    let tenant = rec.tenant;
    let name = dockerName;
    // Contiv's "<network>/<tenant>": the tenant part counts when no option named one.
    const slash = dockerName.lastIndexOf("/");
    if (slash > 0) {
      name = dockerName.slice(0, slash);
      const t = dockerName.slice(slash + 1);
      if (tenant === "default" && this.c.view.get(objectKey("tenant", t))) tenant = t;
    }
    const fallback = `docker-${id.slice(0, 12)}`;
    const taken = (n: string) =>
      this.c.view.get(objectKey("network", `${tenant}:${n}`)) !== undefined || this.c.view.get(objectKey("endpointGroup", `${tenant}:${n}`)) !== undefined;
    const candidates = [name, fallback].filter((n, i, all) => n.length > 0 && n.length <= 64 && NAME.test(n) && all.indexOf(n) === i && !taken(n));
    for (const candidate of candidates) {
      try {
        await this.make(rec, candidate, tenant);
      } catch (err) {
        if (err instanceof ConflictError && candidate !== fallback && /has one already|conflicts with the network name/.test(err.message)) continue;
        rec.error = (err as Error).message;
        this.c.store.save();
        throw err;
      }
      delete rec.pending;
      rec.network = candidate;
      rec.tenant = tenant;
      this.c.store.save();
      this.c.log.info({ dockerNetwork: id.slice(0, 12), dockerName, tenant, network: candidate }, "network made for docker");
      return;
    }
    rec.error = `no usable name for network "${dockerName}"`;
    this.c.store.save();
  }

  async delete(networkId: string): Promise<Record<string, unknown>> {
    const made = this.c.store.networks.get(networkId);
    if (!made) return {};
    this.deleting.add(networkId);
    try {
      await this.naming.get(networkId); // a network being made is made (or not) before it is removed
      await this.remove(made);
    } finally {
      this.deleting.delete(networkId);
    }
    return {};
  }

  private async remove(made: NetworkRecord): Promise<void> {
    const networkId = made.id;
    // The record stays until netmaster's network is gone: the sync must not take that network for one without a Docker network.
    if (made.owned && made.network) {
      try {
        await this.c.master.request("DELETE", `/api/v1/agent/docker/networks/${encodeURIComponent(`${made.tenant}:${made.network}`)}`);
      } catch (err) {
        if (!(err instanceof NotFoundError)) {
          // Still used elsewhere (another host's containers, groups): it stays at netmaster, where netctl can remove it.
          this.c.log.warn({ tenant: made.tenant, network: made.network, err: (err as Error).message }, "network made for docker kept at netmaster");
        }
      }
    }
    this.c.store.networks.delete(networkId);
    for (const p of this.c.store.pools.values()) if (p.networkId === networkId) this.c.store.pools.delete(p.poolId);
    this.c.store.save();
    this.c.log.info({ op: "DeleteNetwork", dockerNetwork: networkId.slice(0, 12), tenant: made.tenant, network: made.network }, "docker network removed");
  }
}
