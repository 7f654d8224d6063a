// netmaster as an agent's local IPAM sees it, in memory, for tests: grants /29 blocks of 198.18.4.0/24
// (8 addresses each), records endpoints registered from them, refuses an address another endpoint holds, and is
// reachable or not. `view` is the host's copy of the state the blocks arrive in. A request not from a block gets
// the address it asks for, or one of 198.18.9.0/24, as netmaster's own allocator would give it; one for an
// endpoint it has already is answered with that endpoint, unchanged.

import { macFromIpv4, type BlockRequest, type EndpointReply, type EndpointRequest } from "../../../contract/api.js";
import { blockKey } from "../../../contract/keys.js";
import type { AddressBlock, EndpointState } from "../../../contract/records.js";
import { ConflictError, UpstreamError } from "../../../lib/errors.js";

export class FakeNetmaster {
  up = true;
  revision = 0;
  readonly view = new Map<string, unknown>();
  /** Endpoint id → address, as netmaster holds them. */
  readonly endpoints = new Map<string, string>();
  readonly calls: string[] = [];
  private nextBlock = 0;
  private allocated = 0;
  maxBlocks = 32;
  /** Holds back answers to requests that are not from a block until it resolves. */
  gate: Promise<void> = Promise.resolve();

  private reach(): void {
    if (!this.up) throw new UpstreamError("Cannot reach netmaster: connect ECONNREFUSED");
  }

  private blockOf(address: string): AddressBlock | undefined {
    for (const [k, v] of this.view) if (k.includes("/state/blocks/") && (v as AddressBlock).addresses.includes(address)) return v as AddressBlock;
    return undefined;
  }

  readonly client = {
    request: async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      this.reach();
      this.calls.push(`${method} ${path}`);
      if (method === "POST" && path === "/api/v1/agent/blocks") {
        const req = body as BlockRequest;
        if (this.nextBlock >= this.maxBlocks) throw new ConflictError("no free block");
        const base = this.nextBlock++ * 8;
        const cidr = `198.18.4.${base}/29`;
        const block: AddressBlock = {
          tenantName: req.tenantName, networkName: req.networkName, host: req.host, cidr,
          addresses: Array.from({ length: 8 }, (_, i) => `198.18.4.${base + i}`), assigned: {},
        };
        this.view.set(blockKey(`${req.tenantName}:${req.networkName}`, cidr), block);
        return { block, revision: ++this.revision } as T;
      }
      if (method === "DELETE" && path.startsWith("/api/v1/agent/blocks/")) {
        const [network, cidr] = path.split("/").slice(-2).map((p) => decodeURIComponent(p).replace("_", "/")) as [string, string];
        const block = this.view.get(blockKey(network, cidr)) as AddressBlock;
        if (Object.keys(block.assigned).length > 0) throw new ConflictError("block in use");
        this.view.delete(blockKey(network, cidr));
        return undefined as T;
      }
      throw new Error(`unexpected ${method} ${path}`);
    },
    createEndpoint: async (req: Partial<EndpointRequest>): Promise<EndpointReply> => {
      this.reach();
      const id = `${req.networkName}.${req.tenantName}-${req.containerID}`;
      this.calls.push(`create ${id}`);
      // As netmaster: asking again for an endpoint it has returns it as it is.
      const existing = this.endpoints.get(id);
      if (!req.fromBlock || existing !== undefined) {
        await this.gate;
        const ip = existing ?? (req.ipAddress || `198.18.9.${++this.allocated}`);
        this.endpoints.set(id, ip);
        // As netmaster: an address of the host's own block asked for by value is assigned in the block.
        const block = this.blockOf(ip);
        if (block && block.host === req.host) block.assigned[ip] = id;
        const endpoint: EndpointState = {
          endpointID: id, tenantName: req.tenantName!, networkName: req.networkName!, groupName: req.groupName ?? "", containerID: req.containerID!,
          containerName: "", ipAddress: ip, ipv6Address: "", macAddress: macFromIpv4(ip), homingHost: req.host!, intfName: "", vtepIP: "", labels: {}, requestedIp: !!req.ipAddress,
        };
        return { endpoint, network: { subnetLen: 16, gateway: "", ipv6SubnetLen: 0, ipv6Gateway: "", pktTag: 1, extPktTag: 1, encap: "vxlan" }, groupId: 0, revision: 0 };
      }
      const block = this.blockOf(req.ipAddress!);
      if (!block) throw new ConflictError(`${req.ipAddress} is in no block of this host`);
      const holder = block.assigned[req.ipAddress!];
      if (holder !== undefined && holder !== id) throw new ConflictError(`${req.ipAddress} is held by ${holder}`);
      block.assigned[req.ipAddress!] = id;
      this.endpoints.set(id, req.ipAddress!);
      return undefined as unknown as EndpointReply; // the agent does not read a block registration's reply
    },
    reportOper: async () => undefined,
    deleteEndpoint: async (id: string) => {
      this.reach();
      this.calls.push(`delete ${id}`);
      const ip = this.endpoints.get(id);
      if (ip === undefined) return;
      this.endpoints.delete(id);
      const block = this.blockOf(ip);
      if (block) delete block.assigned[ip];
    },
  };
}

export function viewOf(nm: FakeNetmaster) {
  return {
    get: <T>(key: string) => nm.view.get(key) as T | undefined,
    list: <T>(prefix: string) => [...nm.view].filter(([k]) => k.startsWith(prefix)) as [string, T][],
    malformedRecords: () => new Map<string, string>(),
    waitForRevision: async () => {},
  };
}
