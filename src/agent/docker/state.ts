// What this host's Docker driver remembers, because dockerd replays nothing
// after a restart (of either side): the pools it asked netmaster for, the
// Docker networks and what each one maps, and the Docker endpoints with where
// their interface is. One JSON file in the agent's state directory, replaced
// atomically on every change.

import { join } from "node:path";
import { z } from "zod";
import { readStateFile, writeStateFile } from "../../lib/state-file.js";
import { PortMapping } from "../ports.js";

export const PoolRecord = z.object({
  poolId: z.string(),
  pool: z.string(),
  v6: z.boolean(),
  mode: z.enum(["map", "create"]),
  tenant: z.string(),
  network: z.string(),
  group: z.string(),
  /** "a.b.c.d/len" or "". */
  gateway: z.string(),
  /** The Docker network it was given to at CreateNetwork; "" before. */
  networkId: z.string().default(""),
});
export type PoolRecord = z.infer<typeof PoolRecord>;

export const NetworkRecord = z.object({
  /** Docker's network id. */
  id: z.string(),
  tenant: z.string(),
  /** The network at netmaster; "" while its name is being learnt (networks.ts). */
  network: z.string(),
  group: z.string(),
  /** netmaster's network was made for this Docker network: DeleteNetwork removes it. */
  owned: z.boolean(),
  poolIds: z.array(z.string()),
  /** A network to make once Docker's name for it is known. */
  pending: z
    .object({
      name: z.string(),
      encap: z.enum(["vxlan", "vlan"]),
      pktTag: z.number(),
      subnet: z.string(),
      gateway: z.string(),
      ipv6Subnet: z.string(),
      ipv6Gateway: z.string(),
    })
    .optional(),
  /** Why the network could not be made at netmaster; endpoints are refused with it. */
  error: z.string().default(""),
  /** Made by this agent's sync (a network or group netctl created), removed by it too. */
  synced: z.boolean().default(false),
});
export type NetworkRecord = z.infer<typeof NetworkRecord>;

/**
 * created — netmaster has the endpoint, nothing is plumbed; joined — Join made the veth and handed its
 * container side to dockerd (netns.ts). Files of older agents name the steps of a hand-over that no
 * longer exists (staging, transit, leaving): each had a sandbox, as joined has.
 */
const LEGACY_PHASES = new Set(["staging", "transit", "leaving"]);
export const EndpointPhase = z.preprocess((p) => (typeof p === "string" && LEGACY_PHASES.has(p) ? "joined" : p), z.enum(["created", "joined"]));
export type EndpointPhase = z.infer<typeof EndpointPhase>;

export const EndpointRecord = z.object({
  /** Docker's endpoint id (also the container id netmaster knows the endpoint by). */
  id: z.string(),
  networkId: z.string(),
  /** netmaster's endpoint id. */
  endpointId: z.string(),
  tenant: z.string(),
  network: z.string(),
  group: z.string(),
  mac: z.string(),
  /** The container side's name in dockerd's namespace (SrcName). */
  srcName: z.string(),
  sandbox: z.string().default(""),
  phase: EndpointPhase,
  /** Host ports published since ProgramExternalConnectivity, until RevokeExternalConnectivity or Leave. */
  portMappings: z.array(PortMapping).default([]),
});
export type EndpointRecord = z.infer<typeof EndpointRecord>;

const FileFormat = z.object({
  version: z.literal(1),
  pools: z.array(PoolRecord),
  networks: z.array(NetworkRecord),
  endpoints: z.array(EndpointRecord),
});

export class DockerStore {
  readonly pools = new Map<string, PoolRecord>();
  readonly networks = new Map<string, NetworkRecord>();
  readonly endpoints = new Map<string, EndpointRecord>();
  private readonly file: string;

  constructor(stateDir: string) {
    this.file = join(stateDir, "docker.json");
    const parsed = readStateFile(this.file, FileFormat);
    for (const p of parsed?.pools ?? []) this.pools.set(p.poolId, p);
    for (const n of parsed?.networks ?? []) this.networks.set(n.id, n);
    for (const e of parsed?.endpoints ?? []) this.endpoints.set(e.id, e);
  }

  save(): void {
    writeStateFile(this.file, { version: 1, pools: [...this.pools.values()], networks: [...this.networks.values()], endpoints: [...this.endpoints.values()] });
  }

}
