// libnetwork's IpamDriver: pools and addresses, all held by netmaster
// (master/docker.ts) so that they are cluster-wide, persisted, and the same
// after any restart. This host only remembers which pools it was given, so
// that CreateNetwork (which names no pool) can tell what a network is for.

import { NotFoundError } from "../../lib/errors.js";
import type { DockerPoolReply } from "../../contract/docker.js";
import type { DockerContext } from "./context.js";
import type { NetworkTracker } from "./networks.js";
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
    if (this.c.store.pools.delete(poolId)) this.c.store.save();
    this.c.log.info({ op: "ReleasePool", poolId }, "pool released");
    return {};
  }

  async requestAddress(req: RequestAddress): Promise<Record<string, unknown>> {
    const gateway = req.Options[REQUEST_ADDRESS_TYPE] === GATEWAY_DATA;
    // An address of a network still being made (its name comes from dockerd) waits for it.
    const pool = this.c.store.pools.get(req.PoolID);
    if (!gateway && pool?.networkId) await this.networks.ready(pool.networkId);
    const r = await this.c.master.request<{ address: string }>("POST", `/api/v1/agent/docker/pools/${encodeURIComponent(req.PoolID)}/addresses`, {
      address: req.Address,
      gateway,
      host: this.c.host,
    });
    this.c.log.debug({ op: "RequestAddress", poolId: req.PoolID, address: r.address, gateway }, "address handed out");
    return { Address: r.address, Data: {} };
  }

  async releaseAddress(poolId: string, address: string): Promise<Record<string, unknown>> {
    try {
      await this.c.master.request("POST", `/api/v1/agent/docker/pools/${encodeURIComponent(poolId)}/release`, { address });
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    this.c.log.debug({ op: "ReleaseAddress", poolId, address }, "address released");
    return {};
  }
}
