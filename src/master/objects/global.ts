import { ConflictError, ValidationError } from "../../lib/errors.js";
import { GLOBAL_DEFAULTS, type Global, type Network } from "../../model/index.js";
import { parseTagRange, VlanAllocator, VxlanAllocator } from "../alloc/index.js";
import { TAGS_KEY } from "../../contract/keys.js";
import type { Tx } from "../tx.js";
import type { Controller, MasterSettings } from "./controller.js";
import { listObjects } from "./common.js";

export interface TagsState {
  vlan: unknown;
  vxlan: unknown;
}

export const GLOBAL_KEY = "global";

export function defaultGlobal(settings: MasterSettings): Global {
  return {
    key: GLOBAL_KEY,
    name: GLOBAL_KEY,
    networkInfraType: settings.infra,
    vlans: GLOBAL_DEFAULTS.vlans,
    vxlans: GLOBAL_DEFAULTS.vxlans,
    fwdMode: settings.fwdMode,
    arpMode: GLOBAL_DEFAULTS.arpMode,
    pvtSubnet: GLOBAL_DEFAULTS.pvtSubnet,
    sdnController: "",
  };
}

export function loadTags(tx: Tx): { vlan: VlanAllocator; vxlan: VxlanAllocator } {
  const tags = tx.get<TagsState>(TAGS_KEY);
  if (!tags) throw new ConflictError("Global configuration is not ready: global forwarding mode is not set");
  return { vlan: VlanAllocator.fromJSON(tags.vlan), vxlan: VxlanAllocator.fromJSON(tags.vxlan) };
}

export function saveTags(tx: Tx, tags: { vlan: VlanAllocator; vxlan: VxlanAllocator }): void {
  tx.put(TAGS_KEY, { vlan: tags.vlan.toJSON(), vxlan: tags.vxlan.toJSON() } satisfies TagsState);
}

function checkFabric(g: Global): void {
  if (!["default", "aci", "aci-opflex", ""].includes(g.networkInfraType)) {
    throw new ValidationError("invalid fabric mode");
  }
}

function networkCounts(tx: Tx): { vlans: number; vxlans: number } {
  const nets = listObjects<Network>(tx, "network");
  return {
    vlans: nets.filter((n) => n.encap === "vlan").length,
    vxlans: nets.filter((n) => n.encap === "vxlan").length,
  };
}

function existing({ vlans, vxlans }: { vlans: number; vxlans: number }): string {
  if (vlans && vxlans) return `${vlans} vlans and ${vxlans} vxlans`;
  return vlans ? `${vlans} vlans` : `${vxlans} vxlans`;
}

export const globalController: Controller<Global> = {
  create(tx, g) {
    checkFabric(g);
    const vlan = VlanAllocator.create(parseTagRange(g.vlans, "vlan"));
    const vxlan = VxlanAllocator.create(parseTagRange(g.vxlans, "vxlan"));
    saveTags(tx, { vlan, vxlan });
  },

  update(tx, old, g) {
    checkFabric(g);
    const counts = networkCounts(tx);
    const inUse = counts.vlans + counts.vxlans > 0;
    if (old.fwdMode !== g.fwdMode) {
      if (inUse) throw new ConflictError(`Unable to update forwarding mode due to existing ${existing(counts)}`);
      if (old.fwdMode === "routing" && listObjects(tx, "Bgp").length > 0) {
        throw new ConflictError("please delete existing Bgp configs");
      }
    }
    if (old.pvtSubnet !== g.pvtSubnet && inUse) {
      throw new ConflictError(`Unable to update private subnet due to existing ${existing(counts)}`);
    }
    const tags = loadTags(tx);
    if (old.vlans !== g.vlans) tags.vlan.setRange(parseTagRange(g.vlans, "vlan"));
    if (old.vxlans !== g.vxlans) tags.vxlan.setRange(parseTagRange(g.vxlans, "vxlan"));
    saveTags(tx, tags);
  },

  remove(tx) {
    const counts = networkCounts(tx);
    if (counts.vlans + counts.vxlans > 0) {
      throw new ConflictError(`Cannot delete global configuration due to existing ${existing(counts)}`);
    }
    tx.delete(TAGS_KEY);
  },
};
