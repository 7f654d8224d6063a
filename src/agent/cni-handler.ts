// The agent's side of CNI: ADD takes an address of the host's own block (ipam/local-ipam.ts) and tells
// netmaster while the reconciler plumbs it, or, for what only netmaster can give (addresses asked for by value,
// delegated IPAM, dhcp and IPv6 networks, group ip pools), asks netmaster for the endpoint first; either way it
// records the attachment and has the reconciler plumb it before answering, and any failure on the way undoes
// what was done, so a failed ADD leaves no interface, address or record behind. DEL is idempotent and works
// with an empty netns. Results are formatted for the caller's cniVersion.
//
// On an `ipam: dhcp` network netmaster makes the endpoint without IPv4 (waiting for its lease): the ADD plumbs
// it on the bridge without an address, leases one with the container's MAC from the DHCP server on the segment
// (a LeaseClient in the container's namespace, kept renewing until DEL), records the lease at netmaster (an
// address of the subnet nothing else holds) and has the reconciler put the address and routes in. A lease that
// cannot be had, or that netmaster refuses, undoes the ADD whole: lease released, interface removed, endpoint
// deleted. DEL releases the lease before the interface goes.

import type { Logger } from "pino";
import { ConflictError, NotFoundError, UpstreamError, ValidationError } from "../lib/errors.js";
import { CniError, cniError, formatResult, parseCniCall, toCniErrorBody, type AddCall, type CheckCall, type CniCall, type CniResult, type DelCall, type GcCall } from "../cni/spec.js";
import { CniErrorCode, quoted, type CniResponse } from "../cni/wire.js";
import { endpointLinkName } from "../datapath/names.js";
import type { EndpointReply } from "../contract/api.js";
import type { AttachmentStore } from "./attachments.js";
import type { MasterClient } from "./master-client.js";
import { netnsProblem } from "./netns.js";
import { normalizePorts, portConflict, samePorts, type PortMapping } from "./ports.js";
import type { EndpointPlumber } from "./endpoints.js";
import type { Reconciler } from "./pipeline/reconciler.js";
import { concerns } from "../contract/api.js";
import { errorsOfUnit } from "../datapath/index.js";
import { ipamSourceOf } from "../cni/ipam.js";
import { unitName } from "./pipeline/contain.js";
import type { Attachment } from "./attachments.js";
import type { EndpointState } from "../contract/records.js";
import { endpointKey } from "../contract/keys.js";
import type { DhcpLeases, LeaseOwner } from "./dhcp/leases.js";
import type { Lease } from "./dhcp/lease.js";
import { NoBlock, type LocalIpam } from "./ipam/local-ipam.js";
import { blockEndpoint, blockPlan, type EndpointAsk } from "./ipam/local-endpoint.js";
import type { StateView } from "./pipeline/compile.js";

export interface CniHandlerDeps {
  host: string;
  master: MasterClient;
  attachments: AttachmentStore;
  reconciler: Reconciler;
  /** Records an attachment and has it plumbed, or undoes it (endpoints.ts); shared with the Docker driver. */
  plumber: EndpointPlumber;
  /** True when the agent follows netmaster's state and can serve ADD. */
  ready: () => boolean;
  /** The overlay's UDP port, never published. */
  vxlanPort: number;
  /** Keeps the endpoint collector off a container while its ADD runs (endpoint-gc.ts). */
  claim: (containerID: string) => Promise<() => void>;
  /** Addresses of the host's own blocks (ipam/local-ipam.ts); absent: every address comes from netmaster. */
  localIpam?: LocalIpam;
  /** The host's copy of netmaster's state. */
  view?: StateView;
  /** The leases of endpoints on ipam dhcp networks (dhcp/leases.ts); absent: such an ADD fails. */
  dhcp?: DhcpLeases;
  log: Logger;
}

/**
 * How long an ADD from a block waits for netmaster to record its endpoint: when it is up, the ADD answers with
 * netmaster knowing the container (as an ADD through netmaster does); when it is not, at once.
 */
const REGISTER_WAIT_MS = 2_000;

/** netmaster's errors as CNI errors with our plugin-specific codes. */
function asCniError(err: unknown, action: string): CniError {
  if (err instanceof CniError) return err;
  const msg = `${action}: ${(err as Error).message}`;
  if (err instanceof NotFoundError) return cniError(CniErrorCode.UnknownNetwork, msg);
  if (err instanceof ConflictError) return cniError(CniErrorCode.Conflict, msg);
  if (err instanceof ValidationError) return cniError(CniErrorCode.Rejected, msg);
  if (err instanceof UpstreamError) return cniError(CniErrorCode.TryAgainLater, msg);
  return cniError(CniErrorCode.AgentInternal, msg);
}

/** Netmaster's container id for an attachment: one endpoint per (container, interface). */
function endpointContainerId(containerId: string, ifname: string): string {
  return ifname === "eth0" ? containerId : `${containerId}-${ifname}`;
}

/** The host's record of an ADD's endpoint: where its container side lives and what it publishes. */
function attachmentOf(call: AddCall, ep: EndpointState, ports: PortMapping[]): Attachment {
  return {
    endpointId: ep.endpointID,
    containerId: call.containerId,
    ifname: call.ifname,
    netns: call.netns,
    tenant: ep.tenantName,
    network: ep.networkName,
    group: ep.groupName,
    containerSide: "ours",
    cniNetwork: call.netConf.name,
    portMappings: ports,
  };
}

/** primary: the container's first interface, which alone gets default routes (compile.ts does the same). */
function buildResult(call: AddCall | CheckCall, reply: EndpointReply, primary: boolean): CniResult {
  const { endpoint: ep, network: net } = reply;
  const result: CniResult = {
    interfaces: [{ name: call.ifname, mac: ep.macAddress, sandbox: call.netns }],
    ips: [],
    routes: [],
    dns: {},
  };
  // No IPv4 yet: an interface plumbed for an IPAM plugin that leases on it (the executable's first ADD).
  if (ep.ipAddress !== "") {
    result.ips.push({ address: `${ep.ipAddress}/${net.subnetLen}`, interface: 0, ...(net.gateway ? { gateway: net.gateway } : {}) });
    if (net.gateway && primary) result.routes.push({ dst: "0.0.0.0/0", gw: net.gateway });
  }
  if (ep.ipv6Address) {
    result.ips.push({ address: `${ep.ipv6Address}/${net.ipv6SubnetLen}`, interface: 0, ...(net.ipv6Gateway ? { gateway: net.ipv6Gateway } : {}) });
    if (net.ipv6Gateway && primary) result.routes.push({ dst: "::/0", gw: net.ipv6Gateway });
  }
  // The tenant's DNS answers on the gateway addresses (agent/dns).
  const nameservers = [net.gateway, net.ipv6Gateway].filter((a) => a !== "");
  if (nameservers.length > 0) result.dns = { nameservers };
  return result;
}

export class CniHandler {
  /**
   * Endpoints plumbed without IPv4 for an IPAM plugin that leases on the interface (CNI dhcp), by endpoint id:
   * the executable's second ADD brings the plugin's address. Lost with the process: a second ADD that finds
   * none fails, and the executable deletes what the first one made.
   */
  private readonly awaitingIpam = new Map<string, EndpointReply>();

  constructor(private readonly d: CniHandlerDeps) {}

  /** Never throws: every failure becomes a CNI error body. */
  async handle(body: unknown): Promise<CniResponse> {
    let call: CniCall | undefined;
    try {
      call = parseCniCall(body);
      return await this.dispatch(call);
    } catch (err) {
      const out = toCniErrorBody(err);
      this.d.log.warn({ op: "cni", code: out.code, err: out.msg }, "CNI call failed");
      // A failed ADD leaves nothing, so an attachment under its name was there before (a second ADD): the
      // executable must not release the delegated IPAM reservation, which is that attachment's.
      if (call?.command === "ADD" && call.ipam !== undefined && this.d.attachments.get(call.containerId, call.ifname)) {
        return { error: out, keepDelegation: true };
      }
      return { error: out };
    }
  }

  private dispatch(call: CniCall): Promise<CniResponse> {
    switch (call.command) {
      case "ADD":
        return this.add(call);
      case "DEL":
        return this.del(call);
      case "CHECK":
        return this.check(call);
      case "STATUS":
        if (!this.d.ready()) throw cniError(CniErrorCode.PluginNotAvailable, "netplugin agent is not following netmaster's state yet");
        return Promise.resolve({ result: null });
      case "GC":
        return this.gc(call);
    }
  }

  private async add(call: AddCall): Promise<CniResponse> {
    const { attachments } = this.d;
    const existing = attachments.get(call.containerId, call.ifname);
    if (existing && call.ipam?.result !== undefined && this.awaitingIpam.has(existing.endpointId)) return this.completeIpam(call, existing);
    if (existing) {
      throw cniError(CniErrorCode.Conflict, `container ${call.containerId} already has interface ${call.ifname} on this host: DEL it first`);
    }
    const netns = netnsProblem(call.netns);
    if (netns !== undefined) throw cniError(CniErrorCode.InvalidEnvironment, `Cannot ADD: CNI_NETNS ${quoted(call.netns)} ${netns.message}`);
    if (!this.d.ready()) throw cniError(CniErrorCode.TryAgainLater, "netplugin agent is not following netmaster's state yet");

    const spec = call.endpoint;
    // With delegated IPAM the IPAM plugin's addresses are the requested ones: static IPs in CNI_ARGS or
    // runtimeConfig were the IPAM plugin's to honour (the static plugin reads them).
    const ips = call.ipam ? (call.ipam.result?.ips ?? []).map((i) => i.address) : spec.ips;
    const v4 = ips.map((a) => a.split("/")[0]!).filter((a) => !a.includes(":"));
    const v6 = ips.map((a) => a.split("/")[0]!).filter((a) => a.includes(":"));
    if (v4.length > 1 || v6.length > 1) {
      const from = call.ipam ? `IPAM plugin ${quoted(call.ipam.type)} returned ${ips.length} addresses: ` : "";
      throw cniError(CniErrorCode.UnsupportedField, `${from}at most one IPv4 and one IPv6 address can be requested`);
    }
    const ports = this.ports(call, spec.tenant);
    const release = await this.d.claim(endpointContainerId(call.containerId, call.ifname));
    try {
      return await this.attach(call, ports, v4[0] ?? "", v6[0] ?? "");
    } finally {
      release();
    }
  }

  /** ADD once checked and claimed: from the host's block when it can, else through netmaster. */
  private async attach(call: AddCall, ports: PortMapping[], ipAddress: string, ipv6Address: string): Promise<CniResponse> {
    const spec = call.endpoint;
    // Only netmaster can give what was asked for by value, or what another IPAM gives.
    const ask = call.ipam === undefined && ipAddress === "" && ipv6Address === "" && !spec.mac ? this.ask(call) : undefined;
    if (ask !== undefined) {
      const local = await this.attachFromBlock(call, ports, ask);
      if (local !== undefined) return local;
    }
    // A requested address of this host's own block is not taken by an ADD from the block meanwhile (the host's
    // copy of the block shows it assigned once the endpoint's revision is there, before the plumbing).
    const unhold = ipAddress !== "" ? this.d.localIpam?.hold(ipAddress) : undefined;
    try {
      return await this.attachThroughNetmaster(call, ports, ipAddress, ipv6Address, ask);
    } finally {
      unhold?.();
    }
  }

  /** ADD with the endpoint netmaster makes: its addresses, the record, the plumbing; undone on failure. */
  private async attachThroughNetmaster(call: AddCall, ports: PortMapping[], ipAddress: string, ipv6Address: string, ask: EndpointAsk | undefined): Promise<CniResponse> {
    const { attachments, master, log } = this.d;
    const spec = call.endpoint;
    let reply: EndpointReply;
    try {
      reply = await master.createEndpoint({
        tenantName: spec.tenant,
        networkName: spec.network,
        groupName: spec.group ?? "",
        containerID: endpointContainerId(call.containerId, call.ifname),
        containerName: call.pod.name ?? "",
        host: this.d.host,
        ipAddress,
        ipv6Address,
        macAddress: spec.mac ?? "",
        labels: spec.labels,
        aliases: spec.aliases,
        ipamSource: call.ipam ? ipamSourceOf(call.ipam) : "netmaster",
        addressLater: call.ipam !== undefined && call.ipam.result === undefined,
      });
    } catch (err) {
      throw asCniError(err, call.ipam ? `Cannot register the address IPAM plugin ${quoted(call.ipam.type)} gave` : "Cannot create endpoint");
    }
    let ep = reply.endpoint;
    if (call.ipam && (ep.ipAddress !== (ipAddress || ep.ipAddress) || ep.ipv6Address !== (ipv6Address || ep.ipv6Address))) {
      // netmaster kept an endpoint of this container from before (an ADD cut short): not the IPAM plugin's address.
      await master.deleteEndpoint(ep.endpointID).catch((e: Error) => log.error({ endpoint: ep.endpointID, err: e.message }, "cannot release endpoint after failed ADD"));
      throw cniError(CniErrorCode.Conflict, `Cannot register the address IPAM plugin ${quoted(call.ipam.type)} gave: netmaster held endpoint ${ep.endpointID} with ${ep.ipAddress} from an earlier ADD; released it, retry`);
    }
    const attachment = attachmentOf(call, ep, ports);
    try {
      // Checked again right before the record: another ADD may have taken a port while netmaster answered.
      const taken = portConflict(attachment, attachments.all());
      if (taken !== undefined) throw cniError(CniErrorCode.Conflict, `Cannot publish host port: ${taken}`);
      // Undoes its record and kernel objects itself when it fails.
      await this.d.plumber.attach(ep, attachment, reply.revision);
      // (An endpoint kept from an earlier ADD cut short may have its lease already: asked for again.)
      if (ep.ipamSource === "dhcp") reply = await this.lease(call, reply, attachment);
    } catch (err) {
      await master.deleteEndpoint(ep.endpointID).catch((e: Error) => log.error({ endpoint: ep.endpointID, err: e.message }, "cannot release endpoint after failed ADD"));
      if (err instanceof CniError) throw cniError(err.code, `${err.message}; rolled back`);
      throw cniError(CniErrorCode.DatapathFailed, `Cannot plumb endpoint ${ep.endpointID}: ${(err as Error).message}; rolled back`);
    }
    // The next ADD on this network need not ask netmaster.
    if (ask !== undefined) this.warm(ask);
    if (call.ipam !== undefined && call.ipam.result === undefined) {
      // The IPAM plugin leases on this interface: the executable runs it now and calls ADD again with its result.
      this.awaitingIpam.set(ep.endpointID, reply);
      log.info({ op: "add", endpoint: ep.endpointID, container: call.containerId, ipam: ipamSourceOf(call.ipam) }, "endpoint plumbed, waiting for its IPAM plugin's address");
      return { result: formatResult(call.cniVersion, buildResult(call, reply, this.isPrimary(call))) };
    }
    return this.attached(call, reply);
  }

  private ask(call: AddCall): EndpointAsk {
    const spec = call.endpoint;
    return {
      tenant: spec.tenant,
      network: spec.network,
      group: spec.group ?? "",
      containerID: endpointContainerId(call.containerId, call.ifname),
      containerName: call.pod.name ?? "",
      host: this.d.host,
      labels: spec.labels,
      aliases: spec.aliases,
    };
  }

  private warm(ask: EndpointAsk): void {
    if (!this.d.localIpam || !this.d.view) return;
    const plan = blockPlan(this.d.view, ask);
    if ("networkKey" in plan) this.d.localIpam.warm(plan.networkKey);
  }

  /**
   * ADD with an address of the host's own blocks, without asking netmaster (which hears of the endpoint right
   * after, ipam/local-ipam.ts); undefined when it must go through netmaster after all. Undone on failure.
   */
  private async attachFromBlock(call: AddCall, ports: PortMapping[], ask: EndpointAsk): Promise<CniResponse | undefined> {
    const { localIpam: ipam, view, log } = this.d;
    if (!ipam || !view) return undefined;
    const plan = blockPlan(view, ask);
    if ("roundTrip" in plan) return undefined;
    let made;
    try {
      made = await ipam.assign(plan.networkKey, (address) => blockEndpoint(view, ask, plan.networkKey, address));
    } catch (err) {
      if (err instanceof NoBlock) return undefined;
      throw cniError(CniErrorCode.TryAgainLater, `Cannot create endpoint: this host has no free address of network ${plan.networkKey} in its blocks, and netmaster cannot give a block now: ${(err as Error).message}`);
    }
    if (made === undefined) return undefined;
    const ep = made.reply.endpoint;
    const attachment = attachmentOf(call, ep, ports);
    const taken = portConflict(attachment, this.d.attachments.all());
    if (taken !== undefined) {
      ipam.release(ep.ipAddress);
      throw cniError(CniErrorCode.Conflict, `Cannot publish host port: ${taken}`);
    }
    // Netmaster hears of the endpoint while it is plumbed, not before.
    ipam.register(ep.ipAddress);
    try {
      await this.d.plumber.attach(ep, attachment, 0);
    } catch (err) {
      ipam.remove(ep.endpointID);
      await ipam.gone(ep.ipAddress, REGISTER_WAIT_MS);
      throw cniError(CniErrorCode.DatapathFailed, `Cannot plumb endpoint ${ep.endpointID}: ${(err as Error).message}; rolled back`);
    }
    await ipam.registered(ep.ipAddress, REGISTER_WAIT_MS);
    log.info({ op: "add", endpoint: ep.endpointID, container: call.containerId, ip: ep.ipAddress, ipam: "block" }, "endpoint attached");
    return { result: formatResult(call.cniVersion, buildResult(call, made.reply, this.isPrimary(call))) };
  }

  /** The container's first interface, which alone gets default routes and published ports. */
  private isPrimary(call: AddCall): boolean {
    return !this.d.attachments.all().some((o) => o.containerId === call.containerId && o.ifname < call.ifname);
  }

  /** An ADD done: netmaster learns the host-side name, and the runtime gets its result. */
  private async attached(call: AddCall, reply: EndpointReply): Promise<CniResponse> {
    const { master, log } = this.d;
    const ep = reply.endpoint;
    await master.reportOper(ep.endpointID, { intfName: endpointLinkName(ep.endpointID), vtepIP: "" }).catch((err: Error) =>
      log.warn({ endpoint: ep.endpointID, err: err.message }, "cannot report endpoint oper state"),
    );
    log.info({ op: "add", endpoint: ep.endpointID, container: call.containerId, ip: ep.ipAddress, ipam: call.ipam ? ipamSourceOf(call.ipam) : (ep.ipamSource ?? "netmaster") }, "endpoint attached");
    return { result: formatResult(call.cniVersion, buildResult(call, reply, this.isPrimary(call))) };
  }

  /**
   * The executable's second ADD for an IPAM plugin that leases on the interface: netmaster records the address
   * it gave and the reconciler configures it. On failure the interface and the endpoint go (the executable
   * then releases the plugin's lease).
   */
  private async completeIpam(call: AddCall, a: Attachment): Promise<CniResponse> {
    const { master, plumber, log } = this.d;
    const ipam = call.ipam!;
    this.awaitingIpam.delete(a.endpointId);
    const ips = ipam.result!.ips.map((i) => i.address.split("/")[0]!);
    let reply: EndpointReply;
    try {
      if (ips.length !== 1 || ips[0]!.includes(":")) {
        throw cniError(CniErrorCode.UnsupportedField, `IPAM plugin ${quoted(ipam.type)} leases on the interface and must give one IPv4 address, not ${ips.join(", ") || "none"}`);
      }
      try {
        reply = await master.setEndpointLease(a.endpointId, ips[0]!);
      } catch (err) {
        throw asCniError(err, `Cannot register the address IPAM plugin ${quoted(ipam.type)} gave`);
      }
      // Undoes its record and the interface itself when it fails.
      await plumber.attach(reply.endpoint, a, reply.revision);
    } catch (err) {
      await plumber.detach(a).catch((e: Error) => log.error({ endpoint: a.endpointId, err: e.message }, "cannot remove interface after failed ADD"));
      await master.deleteEndpoint(a.endpointId).catch((e: Error) => log.error({ endpoint: a.endpointId, err: e.message }, "cannot release endpoint after failed ADD"));
      if (err instanceof CniError) throw cniError(err.code, `${err.message}; rolled back`);
      throw cniError(CniErrorCode.DatapathFailed, `Cannot plumb endpoint ${a.endpointId}: ${(err as Error).message}; rolled back`);
    }
    return this.attached(call, reply);
  }

  /**
   * An endpoint plumbed without IPv4 on an ipam dhcp network: leases its address, has netmaster record it and
   * the reconciler configure it. On failure the lease is released and the interface removed (the caller
   * deletes the endpoint).
   */
  private async lease(call: AddCall, reply: EndpointReply, attachment: Attachment): Promise<EndpointReply> {
    const { dhcp, master, plumber, log } = this.d;
    const ep = reply.endpoint;
    const owner: LeaseOwner = { endpointId: ep.endpointID, tenant: ep.tenantName, network: ep.networkName, netns: call.netns, ifname: call.ifname };
    const undo = async () => {
      await dhcp?.release(ep.endpointID);
      await plumber.detach(attachment).catch((e: Error) => log.error({ endpoint: ep.endpointID, err: e.message }, "cannot remove interface after failed ADD"));
    };
    if (!dhcp) {
      await undo();
      throw cniError(CniErrorCode.AgentInternal, `network ${ep.networkName} takes its addresses from DHCP, and this agent runs no lease clients`);
    }
    let lease: Lease;
    try {
      lease = await dhcp.acquire(owner, ep.ipAddress || undefined);
    } catch (err) {
      await undo();
      throw cniError(CniErrorCode.TryAgainLater, `Cannot lease an address on network ${ep.networkName} (ipam dhcp): ${(err as Error).message}`);
    }
    let leased: EndpointReply;
    try {
      leased = await master.setEndpointLease(ep.endpointID, lease.ip);
    } catch (err) {
      await undo();
      throw asCniError(err, `The DHCP server gave ${lease.ip}, which netmaster refused (the lease was released)`);
    }
    dhcp.recorded(ep.endpointID, lease.ip);
    if (lease.prefixLength !== reply.network.subnetLen) {
      log.warn({ endpoint: ep.endpointID, ip: lease.ip, serverPrefix: lease.prefixLength, subnetLen: reply.network.subnetLen }, "DHCP server's mask differs from the network's subnet; the network's is used");
    }
    try {
      // Undoes the record and the interface itself when it fails.
      await plumber.attach(leased.endpoint, attachment, leased.revision);
    } catch (err) {
      await dhcp.release(ep.endpointID);
      throw err;
    }
    log.info({ endpoint: ep.endpointID, ip: lease.ip, server: lease.serverId, seconds: lease.leaseSeconds }, "DHCP lease recorded");
    return leased;
  }

  /**
   * A lease came back with another address (after a lost one, or an agent restart): netmaster records it and
   * the reconciler moves the container's address; a refusal leaves the endpoint reported as failed.
   */
  async leaseMoved(owner: LeaseOwner, lease: Lease): Promise<void> {
    const { dhcp, master, log } = this.d;
    const a = this.d.attachments.byEndpoint(owner.endpointId);
    if (!a || !dhcp?.has(owner.endpointId)) return;
    try {
      await master.setEndpointLease(owner.endpointId, lease.ip);
      dhcp.recorded(owner.endpointId, lease.ip);
      // The state stream brings the new address, and the reconciler moves it.
      this.d.reconciler.trigger();
      log.info({ endpoint: owner.endpointId, ip: lease.ip }, "DHCP lease moved the endpoint's address");
    } catch (err) {
      log.error({ endpoint: owner.endpointId, ip: lease.ip, err: (err as Error).message }, "cannot take the DHCP lease's new address");
    }
  }

  /**
   * After an agent restart: a lease client again for every attached endpoint on an ipam dhcp network, asking
   * for the address netmaster has for it (a lease the server gives with another address goes to leaseMoved).
   */
  async resumeLeases(view: { get<T>(key: string): T | undefined }): Promise<void> {
    const { dhcp, log } = this.d;
    if (!dhcp) return;
    // All at once: each may wait for its server up to the lease client's timeout.
    await Promise.all(
      this.d.attachments.all().map(async (a) => {
        const ep = view.get<EndpointState>(endpointKey(a.endpointId));
        if (ep?.ipamSource !== "dhcp" || dhcp.has(a.endpointId) || a.netns === "") return;
        const owner: LeaseOwner = { endpointId: ep.endpointID, tenant: ep.tenantName, network: ep.networkName, netns: a.netns, ifname: a.ifname };
        try {
          const lease = await dhcp.acquire(owner, ep.ipAddress || undefined);
          dhcp.recorded(ep.endpointID, ep.ipAddress);
          log.info({ endpoint: ep.endpointID, ip: lease.ip }, "DHCP lease client resumed");
          if (lease.ip !== ep.ipAddress) await this.leaseMoved(owner, lease);
        } catch (err) {
          log.error({ endpoint: ep.endpointID, ip: ep.ipAddress, err: (err as Error).message }, "cannot resume the DHCP lease");
        }
      }),
    );
  }

  /**
   * The ADD's port mappings, checked against each other and against what the host's other containers
   * publish. A container's interfaces share one list (podman passes it to every network); only the first
   * interface, which carries the default route, gets it, so another one may only repeat it.
   */
  private ports(call: AddCall, tenant: string): PortMapping[] {
    let ports: PortMapping[];
    try {
      ports = normalizePorts(call.endpoint.portMappings, this.d.vxlanPort);
    } catch (err) {
      throw cniError(CniErrorCode.InvalidNetworkConfig, (err as Error).message);
    }
    if (ports.length === 0) return ports;
    const first = this.d.attachments
      .all()
      .filter((a) => a.containerId === call.containerId && a.ifname < call.ifname)
      .sort((a, b) => (a.ifname < b.ifname ? -1 : 1))[0];
    if (first !== undefined && !samePorts(first.portMappings, ports)) {
      throw cniError(
        CniErrorCode.InvalidNetworkConfig,
        `Cannot publish host ports on ${call.ifname}: they go to the container's first interface, ${first.ifname}, which has ${first.portMappings.length === 0 ? "none" : "others"}`,
      );
    }
    const taken = portConflict({ containerId: call.containerId, endpointId: "", tenant, portMappings: ports }, this.d.attachments.all());
    if (taken !== undefined) throw cniError(CniErrorCode.Conflict, `Cannot publish host port: ${taken}`);
    return ports;
  }

  private async del(call: DelCall): Promise<CniResponse> {
    const a = this.d.attachments.get(call.containerId, call.ifname);
    if (!a) return { result: null }; // never added here, or already deleted: DEL is idempotent
    this.awaitingIpam.delete(a.endpointId);
    // DHCPRELEASE leaves from the container's interface: before it goes.
    await this.d.dhcp?.release(a.endpointId);
    await this.d.plumber.detach(a);
    // A block endpoint's deletion reaches netmaster from the outbox, right after (or once it answers again).
    if (this.d.localIpam?.remove(a.endpointId)) {
      this.d.log.info({ op: "del", endpoint: a.endpointId, container: call.containerId }, "endpoint detached");
      return { result: null };
    }
    try {
      await this.d.master.deleteEndpoint(a.endpointId);
    } catch (err) {
      // Keep the record so a retried DEL releases the addresses.
      this.d.attachments.put(a);
      throw asCniError(err, "Cannot delete endpoint");
    }
    this.d.log.info({ op: "del", endpoint: a.endpointId, container: call.containerId }, "endpoint detached");
    return { result: null };
  }

  private async check(call: CheckCall): Promise<CniResponse> {
    const a = this.d.attachments.get(call.containerId, call.ifname);
    if (!a) throw cniError(CniErrorCode.UnknownContainer, `container ${call.containerId} has no interface ${call.ifname} on this host`);
    const netns = netnsProblem(call.netns);
    if (netns !== undefined) {
      // A namespace that is gone is a container that is gone; anything else at the path is a bad variable.
      throw cniError(netns.missing ? CniErrorCode.UnknownContainer : CniErrorCode.InvalidEnvironment, `Cannot CHECK: CNI_NETNS ${quoted(call.netns)} ${netns.message}`);
    }
    // A full run: CHECK is about what the kernel holds, which only reading it tells.
    const { compiled, errors } = await this.d.reconciler.run({ full: true });
    const ns = compiled.desired.tenants.find((t) => t.name === a.tenant)?.namespace;
    // Its tenant namespace's, and its own wherever they were met (a direct attachment's are in the container's namespace).
    const unit = { tenant: a.tenant, network: a.network, endpoint: a.endpointId };
    const mine = [...new Set([...errors.filter((e) => e.namespace === ns), ...errorsOfUnit(errors, unit)])].map((e) => e.message);
    // Its tenant, network or itself could not be built from netmaster's state: it runs as it was, not as it should be.
    for (const f of compiled.failures) {
      if (concerns(f.owner, { tenant: a.tenant, network: a.network, endpoint: a.endpointId })) mine.push(`${unitName(f.owner)}: ${f.message}`);
    }
    if (mine.length > 0) {
      throw cniError(CniErrorCode.DatapathFailed, `endpoint ${a.endpointId} is not as it should be: ${mine.join("; ")}`);
    }
    return { result: null };
  }

  private async gc(call: GcCall): Promise<CniResponse> {
    const keep = new Set(call.validAttachments.map((v) => `${v.containerId}/${v.ifname}`));
    const stale = this.d.attachments
      .all()
      .filter((a) => a.cniNetwork === call.netConf.name && !keep.has(`${a.containerId}/${a.ifname}`));
    for (const a of stale) {
      await this.del({ ...call, command: "DEL", containerId: a.containerId, ifname: a.ifname, netns: "", pod: {} } as DelCall);
    }
    return { result: null };
  }
}
