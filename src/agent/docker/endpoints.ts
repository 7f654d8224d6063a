// libnetwork's endpoint calls: CreateEndpoint (the endpoint of an address of
// the host's blocks is made here and reaches netmaster through the outbox,
// ../ipam/local-ipam.ts; netmaster creates any other, adopting the addresses
// IPAM handed out), Join (the veth is made, its
// container side in dockerd's namespace, and handed to dockerd: netns.ts),
// Leave and DeleteEndpoint (the veth goes, the endpoint goes, the addresses
// stay reserved, here or at netmaster, until ReleaseAddress). EndpointOperInfo has nothing
// to report. ProgramExternalConnectivity publishes the container's `-p` ports
// (kept with the record and its attachment, ../ports.ts); Revoke and Leave
// withdraw them. Every step that fails undoes what it did.

import { ConflictError, NotFoundError, ValidationError } from "../../lib/errors.js";
import type { EndpointReply } from "../../contract/api.js";
import { endpointKey, objectKey } from "../../contract/keys.js";
import type { EndpointState } from "../../contract/records.js";
import type { Network } from "../../model/index.js";
import { describePort, pickPorts, samePorts, type PortHolder, type PortMapping } from "../ports.js";
import { errorsOfPorts } from "../../datapath/index.js";
import { withoutLength } from "../../lib/ip.js";
import { labelProblem, MAX_LABELS } from "../../lib/labels.js";
import { endpointLinkName } from "../../datapath/names.js";
import { transitLinkName, type DockerContext } from "./context.js";
import { dockerAttachment } from "./desired.js";
import { blockEndpoint } from "../ipam/local-endpoint.js";
import { dockerAsk } from "./blocks.js";
import type { NetworkTracker } from "./networks.js";
import type { EndpointRecord, NetworkRecord } from "./state.js";
import { portBindings, type CreateEndpoint, type CreateEndpointResponse, type EndpointOnly, type ExternalConnectivity, type Join, type JoinResponse, type PortBinding } from "./wire.js";

/** libnetwork's protocol numbers. */
const PROTOCOLS: Record<number, string> = { 6: "tcp", 17: "udp", 132: "sctp" };
/** How often, and how long apart, dockerd is asked for the container of a joined endpoint. */
const DESCRIBE_ATTEMPTS = 40;
const DESCRIBE_PAUSE_MS = 250;

export class EndpointTracker {
  /** Endpoints as netmaster created them, for the reconciler before the state stream shows them. */
  private readonly created = new Map<string, EndpointState>();
  /** The revision netmaster answered each creation with: Join waits until this host's copy holds it. */
  private readonly createdAt = new Map<string, number>();

  constructor(
    private readonly c: DockerContext,
    private readonly networks: NetworkTracker,
  ) {}

  /** Attachments of joined endpoints as this agent describes them (those of older agents pointed elsewhere). */
  resume(): void {
    for (const rec of this.c.store.endpoints.values()) {
      const attachment = this.c.attachments.byEndpoint(rec.endpointId);
      if (rec.phase === "joined" && attachment) this.c.plumber.move(attachment, this.attachmentOf(rec));
    }
  }

  private record(id: string): EndpointRecord {
    const rec = this.c.store.endpoints.get(id);
    if (!rec) throw new NotFoundError(`Endpoint ${id.slice(0, 12)} is not known to netplugin on host ${this.c.host}`);
    return rec;
  }

  private attachmentOf(rec: EndpointRecord) {
    return dockerAttachment(rec, this.c.dockerNetns.path);
  }

  async create(req: CreateEndpoint): Promise<CreateEndpointResponse> {
    await this.c.synced();
    const net = await this.networks.ready(req.NetworkID);
    if (this.c.store.endpoints.has(req.EndpointID)) throw new ConflictError(`Endpoint ${req.EndpointID.slice(0, 12)} exists already`);
    const iface = req.Interface;
    const local = this.fromBlock(req, net);
    const reply =
      local ??
      (await this.c.master.request<EndpointReply>("POST", "/api/v1/agent/docker/endpoints", {
        tenantName: net.tenant,
        networkName: net.network,
        groupName: net.group,
        containerID: req.EndpointID,
        containerName: "",
        host: this.c.host,
        ipAddress: withoutLength(iface.Address),
        ipv6Address: withoutLength(iface.AddressIPv6),
        macAddress: iface.MacAddress,
        labels: {},
      }));
    const ep = reply.endpoint;
    this.created.set(ep.endpointID, ep);
    this.createdAt.set(ep.endpointID, reply.revision);
    this.c.store.endpoints.set(req.EndpointID, {
      id: req.EndpointID,
      networkId: req.NetworkID,
      endpointId: ep.endpointID,
      tenant: ep.tenantName,
      network: ep.networkName,
      group: ep.groupName,
      mac: ep.macAddress.toLowerCase(),
      srcName: transitLinkName(this.c.prefix, ep.endpointID),
      sandbox: "",
      phase: "created",
      portMappings: [],
    });
    this.c.store.save();
    const out: CreateEndpointResponse = { Interface: {} };
    if (!iface.MacAddress) out.Interface.MacAddress = ep.macAddress;
    if (!iface.Address) out.Interface.Address = `${ep.ipAddress}/${reply.network.subnetLen}`;
    // Docker must know an IPv6 address it did not ask for, or it disables IPv6 on the interface.
    if (!iface.AddressIPv6 && ep.ipv6Address) out.Interface.AddressIPv6 = `${ep.ipv6Address}/${reply.network.ipv6SubnetLen}`;
    this.c.log.info({ op: "CreateEndpoint", endpoint: ep.endpointID, ip: ep.ipAddress, ipam: local ? "block" : "netmaster" }, "docker endpoint created");
    return out;
  }

  /**
   * The endpoint of an address our IPAM reserved in the host's blocks, made here (netmaster hears of it through
   * the outbox, from Join); undefined when netmaster makes it: another IPAM's address, IPv6, or a MAC Docker chose (only
   * netmaster can tell whether it is free on the network).
   */
  private fromBlock(req: CreateEndpoint, net: NetworkRecord): EndpointReply | undefined {
    const ipam = this.c.localIpam;
    const iface = req.Interface;
    if (!ipam || iface.AddressIPv6 || iface.MacAddress) return undefined;
    const networkKey = `${net.tenant}:${net.network}`;
    const made = ipam.adopt(networkKey, withoutLength(iface.Address), (address) => blockEndpoint(this.c.view, dockerAsk(this.c.host, net, req.EndpointID), networkKey, address));
    return made?.reply;
  }

  private endpointState(rec: EndpointRecord): EndpointState {
    const ep = this.created.get(rec.endpointId) ?? this.c.view.get<EndpointState>(endpointKey(rec.endpointId)) ?? this.c.localIpam?.endpointOf(rec.endpointId);
    if (!ep) throw new NotFoundError(`Endpoint ${rec.endpointId} not found at netmaster`);
    return ep;
  }

  async join(req: Join): Promise<JoinResponse> {
    await this.c.synced();
    const rec = this.record(req.EndpointID);
    const ep = this.endpointState(rec);
    const net = this.c.view.get<Network>(objectKey("network", `${rec.tenant}:${rec.network}`));
    if (!net) throw new NotFoundError(`Network ${rec.network} of tenant ${rec.tenant} not found`);
    const answer: JoinResponse = {
      InterfaceName: { SrcName: rec.srcName, DstPrefix: "eth" },
      ...(net.gateway ? { Gateway: net.gateway } : {}),
      ...(ep.ipv6Address && net.ipv6Gateway ? { GatewayIPv6: net.ipv6Gateway } : {}),
      DisableGatewayService: true,
    };
    if (rec.phase !== "created") {
      if (rec.sandbox === req.SandboxKey) return answer; // a retried call
      throw new ConflictError(`Endpoint ${req.EndpointID.slice(0, 12)} has joined a sandbox already`);
    }
    try {
      // One reconcile run (incremental: it reads this tenant only) makes the pair; dockerd takes the container end once we answer.
      await this.c.plumber.attach(ep, this.attachmentOf(rec), this.createdAt.get(rec.endpointId) ?? 0);
    } catch (err) {
      throw new Error(`Cannot plumb endpoint ${rec.endpointId}: ${(err as Error).message}; rolled back`, { cause: err });
    }
    rec.sandbox = req.SandboxKey;
    rec.phase = "joined";
    this.c.store.save();
    // A block endpoint: netmaster hears of it now, once it is plumbed (../ipam/local-ipam.ts), so that its
    // commit and the state stream's echo share the CPUs with dockerd's work after Join rather than with ours.
    this.c.localIpam?.register(ep.ipAddress);
    this.c.log.info({ op: "Join", endpoint: rec.endpointId, sandbox: req.SandboxKey, link: rec.srcName }, "docker endpoint handed to dockerd");
    void this.describe(rec);
    return answer;
  }

  /**
   * Tells netmaster the container's name (the tenant's DNS answers it on every host) and labels (what service
   * selectors match), once dockerd lists the container: libnetwork never tells a driver, and asking dockerd
   * inside Join would wait on the very container that waits for Join. Labels that are not label-shaped
   * (Docker's own may hold anything) are left out.
   */
  private async describe(rec: EndpointRecord): Promise<void> {
    if (!this.c.engine.present) return;
    for (let attempt = 0; attempt < DESCRIBE_ATTEMPTS; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, DESCRIBE_PAUSE_MS));
      if (!this.c.store.endpoints.has(rec.id)) return;
      try {
        const container = await this.c.engine.containerOf(rec.id, rec.networkId);
        if (container === undefined) continue;
        const labels = Object.fromEntries(Object.entries(container.Labels ?? {}).filter(([k, v]) => labelProblem(k, v) === undefined).slice(0, MAX_LABELS));
        const containerName = (container.Names?.[0] ?? "").replace(/^\//, "");
        await this.c.master.reportOper(rec.endpointId, { intfName: endpointLinkName(rec.endpointId), vtepIP: "", containerName, labels });
        return;
      } catch (err) {
        this.c.log.debug({ endpoint: rec.endpointId, err: (err as Error).message }, "cannot describe the container yet");
      }
    }
    this.c.log.warn({ endpoint: rec.endpointId }, "dockerd never listed the container of this endpoint: it has no name or labels at netmaster");
  }

  /**
   * Publishes the container's `-p` ports (only the network that gives the container its gateway gets this
   * call, and so the default route the replies leave by). A range (HostPort..HostPortEnd) gets its first
   * port free on this host, as Docker's bridge driver would pick one. No host port (`-p 80`) is refused:
   * libnetwork shows a remote driver's choice nowhere, so nobody could find the port. Idempotent.
   */
  async program(req: ExternalConnectivity): Promise<Record<string, unknown>> {
    await this.c.synced();
    const rec = this.record(req.EndpointID);
    const bindings = portBindings(req.Options, "ProgramExternalConnectivity");
    await this.publish(rec, (others) => this.choosePorts(rec, bindings, others));
    this.c.log.info({ op: "ProgramExternalConnectivity", endpoint: rec.endpointId, ports: rec.portMappings.map(describePort) }, "docker endpoint ports published");
    return {};
  }

  /** Withdraws the endpoint's published ports. Idempotent. */
  async revoke(req: EndpointOnly): Promise<Record<string, unknown>> {
    const rec = this.c.store.endpoints.get(req.EndpointID);
    if (!rec || rec.portMappings.length === 0) return {};
    await this.publish(rec, () => []);
    this.c.log.info({ op: "RevokeExternalConnectivity", endpoint: rec.endpointId }, "docker endpoint ports withdrawn");
    return {};
  }

  private holder(rec: EndpointRecord, portMappings: PortMapping[]): PortHolder {
    return { containerId: rec.id, endpointId: rec.endpointId, tenant: rec.tenant, portMappings };
  }

  /** Each binding as one mapping, a range's first free port chosen; throws ValidationError or ConflictError. */
  private choosePorts(rec: EndpointRecord, bindings: PortBinding[], others: PortHolder[]): PortMapping[] {
    const requests = bindings.map((b) => {
      const protocol = PROTOCOLS[b.Proto] ?? String(b.Proto);
      if (b.HostPort === 0) {
        throw new ValidationError(`Cannot publish container port ${b.Port}/${protocol}: give it a host port (-p HOSTPORT:${b.Port}); netplugin could not tell Docker a port it picked`);
      }
      return { protocol, hostPort: b.HostPort, hostPortEnd: b.HostPortEnd, containerPort: b.Port, hostIP: b.HostIP };
    });
    return pickPorts(this.holder(rec, []), requests, others, this.c.vxlanPort);
  }

  /**
   * Gives the endpoint the mappings `choose` picks against the host's other attachments (chosen and
   * recorded in one step, so two calls never take one port), and waits for the datapath to apply them;
   * on failure the previous mappings come back.
   */
  private async publish(rec: EndpointRecord, choose: (others: PortHolder[]) => PortMapping[]): Promise<void> {
    const previous = rec.portMappings;
    const record = (mappings: PortMapping[]): void => {
      rec.portMappings = mappings;
      const attachment = this.c.attachments.byEndpoint(rec.endpointId);
      if (attachment) this.c.attachments.put({ ...attachment, portMappings: mappings });
      this.c.store.save();
    };
    const changed = await this.c.lock.run(() => {
      const mappings = choose(this.c.attachments.all());
      if (samePorts(mappings, previous)) return false;
      record(mappings);
      return true;
    });
    if (!changed || rec.portMappings.length === 0) {
      if (changed) this.c.reconciler.trigger();
      return;
    }
    const { compiled, errors } = await this.c.reconciler.run();
    const tenant = compiled.desired.tenants.find((t) => t.name === rec.tenant);
    const problems = tenant?.uplink ? errorsOfPorts(errors, rec.tenant).map((e) => e.message) : [`tenant ${rec.tenant} has no uplink to publish host ports through`];
    if (problems.length === 0) return;
    await this.c.lock.run(() => record(previous));
    await this.c.reconciler.run().catch(() => undefined);
    throw new Error(`Cannot publish host ports of endpoint ${rec.endpointId}: ${problems.join("; ")}; rolled back`);
  }

  operInfo(_req: EndpointOnly): Record<string, unknown> {
    return { Value: {} };
  }

  async leave(req: EndpointOnly): Promise<Record<string, unknown>> {
    const rec = this.c.store.endpoints.get(req.EndpointID);
    if (!rec) return {};
    // Revoke comes first from dockerd; a Leave without it still withdraws the ports.
    await this.revoke(req);
    this.c.log.info({ op: "Leave", endpoint: rec.endpointId }, "docker endpoint leaving its sandbox");
    return {};
  }

  async delete(req: EndpointOnly): Promise<Record<string, unknown>> {
    const rec = this.c.store.endpoints.get(req.EndpointID);
    if (!rec) return {}; // idempotent
    const attachment = this.c.attachments.byEndpoint(rec.endpointId);
    const release = async (): Promise<void> => {
      // A block endpoint's deletion reaches netmaster from the outbox; its address stays Docker's until ReleaseAddress.
      if (this.c.localIpam?.remove(rec.endpointId)) return;
      try {
        await this.c.master.request("DELETE", `/api/v1/agent/docker/endpoints/${encodeURIComponent(rec.endpointId)}`);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err; // the record stays, so a retried DeleteEndpoint releases it
      }
    };
    // Independent: the attachment is gone before either starts, so the run (incremental: this tenant only) deletes the veth.
    await Promise.all([attachment ? this.c.plumber.detach(attachment) : undefined, release()]);
    this.created.delete(rec.endpointId);
    this.createdAt.delete(rec.endpointId);
    await this.c.lock.run(() => {
      this.c.store.endpoints.delete(rec.id);
      this.c.store.save();
    });
    this.c.log.info({ op: "DeleteEndpoint", endpoint: rec.endpointId }, "docker endpoint deleted");
    return {};
  }
}
