// libnetwork's IpamDriver: pools, held by netmaster (master/docker/) so that
// they are cluster-wide, persisted, and the same after any restart, and
// addresses. An address of a network our network driver made or maps comes
// from this host's address blocks without asking netmaster, as a CNI ADD's
// does (blocks.ts says which); any other is reserved at netmaster. This host
// remembers which pools it was given, so that CreateNetwork (which names no
// pool) can tell what a network is for.

import { ConflictError, NotFoundError, UpstreamError } from "../../lib/errors.js";
import type { DockerPoolReply } from "../../contract/docker.js";
import { withoutLength } from "../../lib/ip.js";
import { NoBlock } from "../ipam/local-ipam.js";
import { dockerBlockPlan, poolPrefixLength } from "./blocks.js";
import type { DockerContext } from "./context.js";
import type { NetworkTracker } from "./networks.js";
import type { PoolRecord } from "./state.js";
import { GATEWAY_DATA, REQUEST_ADDRESS_TYPE, type RequestAddress, type RequestPool } from "./wire.js";

interface IpRoute {
  dst?: string;
}

export class DockerIpam {
  constructor(
    private readonly c: DockerContext,
    private readonly networks: NetworkTracker,
  ) {}

  capabilities(): Record<string, unknown> {
    return { RequiresMACAddress: false, RequiresRequestReplay: false };
  }

  defaultAddressSpaces(): Record<string, unknown> {
    return { LocalDefaultAddressSpace: "netplugin-local", GlobalDefaultAddressSpace: "netplugin-global" };
  }

  /** The routes of dockerd's namespace: a pool netmaster picks must not overlap them, or dockerd asks again. */
  private async dockerRoutes(v6: boolean): Promise<string[]> {
    try {
      const text = await this.c.dockerNetns.run(["ip", v6 ? "-6" : "-4", "-json", "route", "show", "table", "all"]);
      return (JSON.parse(text || "[]") as IpRoute[])
        .map((r) => r.dst ?? "")
        .filter((d) => d !== "" && d !== "default" && !d.startsWith("fe80") && !d.startsWith("ff"))
        .map((d) => (d.includes("/") ? d : `${d}/${v6 ? 128 : 32}`));
    } catch (err) {
      this.c.log.warn({ err: (err as Error).message }, "cannot read the routes of dockerd's namespace");
      return [];
    }
  }

  async requestPool(req: RequestPool): Promise<Record<string, unknown>> {
    const avoid = req.Pool === "" ? await this.dockerRoutes(req.V6) : [];
    const reply = await this.c.master.request<DockerPoolReply>("POST", "/api/v1/agent/docker/pools", {
      host: this.c.host,
      v6: req.V6,
      pool: req.Pool,
      subPool: req.SubPool,
      options: req.Options,
      avoid,
      defaultRange: this.c.defaultPoolRange,
    });
    this.c.store.pools.set(reply.poolId, {
      poolId: reply.poolId,
      pool: reply.pool,
      v6: req.V6,
      mode: reply.mode,
      tenant: reply.tenant,
      network: reply.network,
      group: reply.group,
      gateway: reply.gateway,
      networkId: "",
    });
    this.c.store.save();
    this.c.log.info({ op: "RequestPool", pool: reply.pool, poolId: reply.poolId, mode: reply.mode, tenant: reply.tenant, network: reply.network }, "pool requested");
    return { PoolID: reply.poolId, Pool: reply.pool, Data: reply.gateway ? { [GATEWAY_DATA]: reply.gateway } : {} };
  }

  async releasePool(poolId: string): Promise<Record<string, unknown>> {
    await this.c.master.request("DELETE", `/api/v1/agent/docker/pools/${encodeURIComponent(poolId)}`);
    this.c.localIpam?.releasePool(poolId);
    if (this.c.store.pools.delete(poolId)) this.c.store.save();
    this.c.log.info({ op: "ReleasePool", poolId }, "pool released");
    return {};
  }

  async requestAddress(req: RequestAddress): Promise<Record<string, unknown>> {
    const gateway = req.Options[REQUEST_ADDRESS_TYPE] === GATEWAY_DATA;
    // An address of a network still being made (its name comes from dockerd) waits for it.
    const pool = this.c.store.pools.get(req.PoolID);
    if (!gateway && pool?.networkId) {
      const local = await this.fromBlock(pool, withoutLength(req.Address));
      if (local !== undefined) return { Address: local, Data: {} };
    }
    const r = await this.c.master.request<{ address: string }>("POST", `/api/v1/agent/docker/pools/${encodeURIComponent(req.PoolID)}/addresses`, {
      address: req.Address,
      gateway,
      host: this.c.host,
    });
    this.c.log.debug({ op: "RequestAddress", poolId: req.PoolID, address: r.address, gateway }, "address handed out");
    return { Address: r.address, Data: {} };
  }

  /**
   * An address of the host's blocks for the pool's network (`wanted` when it is in one of them), as
   * "address/len"; undefined when netmaster gives it (blocks.ts). Throws ConflictError when `wanted` is held,
   * UpstreamError when the blocks are full and netmaster cannot be asked for another.
   */
  private async fromBlock(pool: PoolRecord, wanted: string): Promise<string | undefined> {
    // An address of a network still being made (its name comes from dockerd) waits for it.
    const net = await this.networks.ready(pool.networkId);
    const ipam = this.c.localIpam;
    if (!ipam) return undefined;
    const plan = dockerBlockPlan(this.c.view, this.c.host, pool, net);
    if ("roundTrip" in plan) return undefined;
    let address: string | undefined;
    try {
      address = await ipam.reserve(plan.networkKey, pool.poolId, wanted);
    } catch (err) {
      if (err instanceof NoBlock) return undefined;
      if (err instanceof ConflictError) throw err;
      throw new UpstreamError(`Cannot request an address: this host has no free address of network ${plan.networkKey} in its blocks, and netmaster cannot give a block now: ${(err as Error).message}`, { cause: err });
    }
    if (address === undefined) return undefined;
    this.c.log.debug({ op: "RequestAddress", poolId: pool.poolId, address, ipam: "block" }, "address handed out");
    return `${address}/${poolPrefixLength(pool)}`;
  }

  async releaseAddress(poolId: string, address: string): Promise<Record<string, unknown>> {
    // Free here once no endpoint holds it either; netmaster never reserved it.
    if (this.c.localIpam?.unreserve(poolId, withoutLength(address))) {
      this.c.log.debug({ op: "ReleaseAddress", poolId, address, ipam: "block" }, "address released");
      return {};
    }
    try {
      await this.c.master.request("POST", `/api/v1/agent/docker/pools/${encodeURIComponent(poolId)}/release`, { address });
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    this.c.log.debug({ op: "ReleaseAddress", poolId, address }, "address released");
    return {};
  }
}
