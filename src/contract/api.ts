// The agent API: what a host's agent sends netmaster and what it answers, one zod schema per request (the
// TypeScript type and netmaster's check). Netmaster's handlers and the agent's client both import it.

import { z } from "zod";
import { labelsProblem } from "../lib/labels.js";
import { macProblem } from "../lib/mac.js";
import { IpamSource, type AddressBlock, type EndpointState } from "./records.js";

const Name = z.string().max(256);
/** A runtime's labels, by lib/labels.ts's rules. */
const Labels = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  const problem = labelsProblem(labels);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});
const DnsName = z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/, "must be a DNS name");

export const EndpointRequest = z.object({
  tenantName: Name.default("default"),
  networkName: Name.default(""),
  groupName: Name.default(""),
  containerID: z.string().min(1).max(256),
  containerName: Name.default(""),
  host: z.string().min(1).max(256),
  intfName: Name.default(""),
  vtepIP: Name.default(""),
  ipAddress: z.string().max(64).default(""),
  ipv6Address: z.string().max(64).default(""),
  macAddress: z
    .string()
    .max(64)
    .default("")
    .superRefine((mac, ctx) => {
      const problem = mac === "" ? undefined : macProblem(mac);
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: `macAddress ${problem}` });
    }),
  /** The runtime's labels (netmaster adds io.contiv.tenant, io.contiv.network and io.contiv.net-group). */
  labels: Labels.default({}),
  /** More names the tenant's DNS answers with the endpoint's addresses (podman's network aliases). */
  aliases: z.array(DnsName).max(16).default([]),
  /** Where the requested addresses come from (records.ts IpamSource); netmaster's allocator by default. */
  ipamSource: IpamSource.default("netmaster"),
  /**
   * The IPv4 address comes after the interface is plumbed: a delegated IPAM plugin that leases on the
   * container's interface (CNI dhcp) runs once it exists. The endpoint is made without IPv4 and the agent
   * records the address with PUT .../endpoints/:id/lease. Only with ipamSource "cni:<type>".
   */
  addressLater: z.boolean().default(false),
  /**
   * The agent assigned ipAddress (and macAddress, derived from it) from one of its host's address blocks and
   * has plumbed the endpoint already: netmaster records it, refusing an address outside the host's blocks or
   * one another endpoint holds. Only with ipamSource "netmaster" on a network without IPv6.
   */
  fromBlock: z.boolean().default(false),
});
export type EndpointRequest = z.infer<typeof EndpointRequest>;

/**
 * The DHCP lease an agent holds for an endpoint of an `ipam: dhcp` network, or the address a delegated IPAM
 * plugin gave an endpoint made with addressLater (PUT .../endpoints/:id/lease).
 */
export const EndpointLease = z.object({
  ipAddress: z.string().regex(/^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/, "ipAddress must be an IPv4 address"),
});
export type EndpointLease = z.infer<typeof EndpointLease>;

/** A host asks for a block of a network's IPv4 addresses to assign itself (POST /api/v1/agent/blocks). */
export const BlockRequest = z.object({
  tenantName: Name.min(1),
  networkName: Name.min(1),
  host: z.string().min(1).max(256),
});
export type BlockRequest = z.infer<typeof BlockRequest>;

/** The block granted, and the state revision that holds it (and so the network's tenant on the host). */
export interface BlockReply {
  block: AddressBlock;
  revision: number;
}

/** What the agent needs to plumb the endpoint, beside the endpoint itself. */
export interface EndpointReply {
  endpoint: EndpointState;
  network: {
    subnetLen: number;
    gateway: string;
    ipv6SubnetLen: number;
    ipv6Gateway: string;
    pktTag: number;
    extPktTag: number;
    encap: string;
  };
  groupId: number;
  /**
   * The state revision that holds the endpoint: the agent's copy of its slice has the endpoint's tenant once it
   * reaches it (the first endpoint of a tenant on a host brings the tenant's records there).
   */
  revision: number;
}

/** Locally administered MAC derived from the IPv4 address, as Contiv does: 02:02:<ip bytes>. */
export function macFromIpv4(ip: string): string {
  return "02:02:" + ip.split(".").map((b) => Number(b).toString(16).padStart(2, "0")).join(":");
}

/** Same naming as Contiv: "<network>.<tenant>-<container>". */
export function endpointId(network: string, tenant: string, container: string): string {
  return `${network}.${tenant}-${container}`;
}

const Ipv4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;

export const HostName = z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9._-]{0,253}[A-Za-z0-9])?$/, "host name must be a DNS-style name of at most 255 characters");

export const HostRegistration = z.object({
  vtepIP: z.string().regex(Ipv4, "vtepIP must be an IPv4 address").or(z.literal("")).default(""),
  mtu: z.number().int().min(0).max(65535).default(0),
  agentVersion: z.string().max(64).default(""),
});
export type HostRegistration = z.infer<typeof HostRegistration>;

export const EndpointOperReport = z.object({
  intfName: z.string().max(64).default(""),
  vtepIP: z.string().max(64).default(""),
  /** What the runtime said of the container after the endpoint was made (Docker tells at Join): its name and labels. */
  containerName: z.string().max(256).optional(),
  labels: Labels.optional(),
});
export type EndpointOperReport = z.infer<typeof EndpointOperReport>;

/** A host's BGP session and the routes it learned, for `netctl bgp inspect`. */
export const BgpReport = z.object({
  neighborStatus: z.string().max(64),
  adminStatus: z.string().max(64),
  numRoutes: z.number().int().min(0),
  routes: z.array(z.string().max(128)).max(100_000),
});
export type BgpReport = z.infer<typeof BgpReport>;

/** Per-rule packet and byte counters of one host, by rule key. */
export const Counters = z.object({
  rules: z.record(z.string().max(256), z.object({ packets: z.number().int().min(0), bytes: z.number().int().min(0) })),
});
export type Counters = z.infer<typeof Counters>;

// Realization: after every datapath sync, what the host has in force (master/realization.ts).

const UnitName = z.string().max(256);

/** A unit of a host's datapath that is not in force: a tenant, a network of it, or an endpoint of that network. */
export const UnitFailure = z.object({
  tenant: UnitName,
  network: UnitName.optional(),
  endpoint: UnitName.optional(),
  message: z.string().max(2048),
});
export type UnitFailure = z.infer<typeof UnitFailure>;

/** Most failures one report carries; the agent keeps the first ones. */
export const MAX_REPORTED_FAILURES = 1000;

export const RealizationReport = z.object({
  /** The revision of netmaster's state the sync compiled (whole: every event of it applied). */
  revision: z.number().int().min(0),
  /** The state stream epoch the revision came from: a report from another history is refused. */
  epoch: z.string().max(64),
  failures: z.array(UnitFailure).max(MAX_REPORTED_FAILURES),
  /**
   * Host-wide settings this host's datapath accepts but cannot put in force, and why (the linux datapath: the
   * global sdnController). Absent from agents that predate it, and when there are none.
   */
  unapplied: z.array(z.object({ message: z.string().max(2048) })).max(16).optional(),
  /** The host's datapath driver (the trace models the linux one's filter). Absent from agents that predate it. */
  datapath: z.enum(["linux", "ovs"]).optional(),
});
export type RealizationReport = z.infer<typeof RealizationReport>;

/** What an object belongs to: its tenant, and for a network's or endpoint's own objects the network and endpoint. */
export interface RealizationScope {
  tenant: string;
  network?: string;
  endpoint?: string;
}

/** Whether a failing unit holds the object (its tenant, its network) or is the object's own. */
export function concerns(f: { tenant?: string; network?: string; endpoint?: string }, scope: RealizationScope): boolean {
  return f.tenant === scope.tenant && (f.network === undefined || f.network === scope.network) && (f.endpoint === undefined || f.endpoint === scope.endpoint);
}
