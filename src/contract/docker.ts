// What the hosts' Docker drivers send netmaster for libnetwork's IPAM and network calls, and its answers.

import { z } from "zod";

/** The IPAM options (and Contiv's driver options) that name what a pool is for. */
export const TAG_OPTION = "contiv-tag";

const Cidr = z.string().max(64);

export const DockerPoolRequest = z.object({
  host: z.string().min(1).max(256),
  v6: z.boolean().default(false),
  /** Docker's Pool: the --subnet, or "" for "pick one". */
  pool: Cidr.default(""),
  /** Docker's SubPool: the --ip-range, or "". */
  subPool: Cidr.default(""),
  /** --ipam-opt: tenant, network, group, contiv-tag. */
  options: z.record(z.string(), z.string()).default({}),
  /** When netmaster picks the pool: CIDRs it must not overlap (the routes where dockerd runs). */
  avoid: z.array(Cidr).max(100_000).default([]),
  /** When netmaster picks the pool: the block it takes /24s from. */
  defaultRange: Cidr.default("10.200.0.0/16"),
});
export type DockerPoolRequest = z.infer<typeof DockerPoolRequest>;

export interface DockerPoolReply {
  poolId: string;
  pool: string;
  /** "a.b.c.d/len", or "" when the network has no gateway. */
  gateway: string;
  /** map: an existing network (or group); create: a network the Docker driver creates at CreateNetwork. */
  mode: "map" | "create";
  tenant: string;
  network: string;
  group: string;
}

export const DockerAddressRequest = z.object({
  /** Requested address without length, or "". */
  address: z.string().max(64).default(""),
  /** Docker's RequestAddressType com.docker.network.gateway. */
  gateway: z.boolean().default(false),
  host: z.string().max(256).default(""),
});
export type DockerAddressRequest = z.infer<typeof DockerAddressRequest>;

export const DockerAddressRelease = z.object({ address: z.string().min(1).max(64) });

export const DockerNetworkRequest = z.object({
  /** The host whose dockerd asks: its agent alone may remove the network again. */
  host: z.string().min(1).max(256),
  name: z.string().min(1).max(64),
  tenant: z.string().min(1).max(64),
  encap: z.enum(["vxlan", "vlan"]).default("vxlan"),
  pktTag: z.number().int().min(0).default(0),
  /** Pools this host was given for the network (create mode); their subnets and gateways make the network. */
  poolIds: z.array(z.string().max(64)).max(2).default([]),
  /** Without our pools (another IPAM driver): the network's addresses as Docker gave them. */
  subnet: Cidr.default(""),
  gateway: z.string().max(64).default(""),
  ipv6Subnet: Cidr.default(""),
  ipv6Gateway: z.string().max(64).default(""),
});
export type DockerNetworkRequest = z.infer<typeof DockerNetworkRequest>;
