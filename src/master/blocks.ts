// Host address blocks: netmaster grants a host a block of a network's IPv4 addresses, whose agent assigns
// them to its containers itself and registers each endpoint right after (EndpointRequest.fromBlock). The
// block's addresses are reserved in the network's allocator for as long as it exists, so netmaster never
// hands them out; which of them are in use is the block's `assigned`, kept by the endpoint calls
// (endpoints.ts). A block goes back whole when its host releases it empty, when the host is deregistered
// and when its network is deleted.

import { macFromIpv4, type BlockRequest } from "../contract/api.js";
import { blockKey, BLOCK_PREFIX, blockPrefix, hostKey, macKey, networkStateKey } from "../contract/keys.js";
import type { AddressBlock } from "../contract/records.js";
import { ConflictError, NotFoundError, ValidationError } from "../lib/errors.js";
import type { Network } from "../model/index.js";
import { blockCidrOf, blockPrefixLength, chooseBlock, Ipv4Allocator, parseIpv4Subnet, tryParseIpv4 } from "./alloc/index.js";
import { getObject } from "./objects/common.js";
import { getNetworkState } from "./objects/network.js";
import type { MacHolder, NetworkState } from "./records.js";
import type { Tx } from "./tx.js";

function networkLabel(net: { tenantName: string; networkName: string }): string {
  return `${net.networkName} (tenant ${net.tenantName})`;
}

/** The block of the network that holds the address (among its `addresses`), if any. */
export function blockHolding(tx: Tx, networkKey: string, subnet: string, address: string): AddressBlock | undefined {
  const len = blockPrefixLength(parseIpv4Subnet(subnet).prefixLen);
  if (len === undefined || tryParseIpv4(address) === undefined) return undefined;
  const block = tx.get<AddressBlock>(blockKey(networkKey, blockCidrOf(address, len)));
  return block?.addresses.includes(address) ? block : undefined;
}

export function listBlocks(tx: Tx, networkKey: string): AddressBlock[] {
  return tx.list<AddressBlock>(blockPrefix(networkKey)).map(([, b]) => b);
}

/**
 * A new block of the network's addresses for the host: the lowest range at least half free that no block
 * holds (alloc/blocks.ts), its free addresses reserved in the network's allocator. Leaves out an address
 * whose derived MAC an endpoint holds already (a requested MAC), since the agent would derive the same.
 * ConflictError when no range qualifies: the host's endpoints then get their addresses from netmaster.
 */
export function grantBlock(tx: Tx, req: BlockRequest): AddressBlock {
  const net = getObject<Network>(tx, "network", `${req.tenantName}:${req.networkName}`);
  if (!net) throw new NotFoundError(`Cannot grant an address block: network ${req.networkName} of tenant ${req.tenantName} not found`);
  const what = `Cannot grant host ${req.host} an address block of network ${networkLabel(net)}`;
  if ((net.ipam ?? "netmaster") === "dhcp") {
    throw new ValidationError(`${what}: its addresses come from DHCP (ipam dhcp)`);
  }
  if (net.ipv6Subnet) {
    throw new ValidationError(`${what}: it has an IPv6 subnet and blocks hold IPv4 addresses only: its endpoints get their addresses from netmaster`);
  }
  if (!tx.get(hostKey(req.host))) throw new NotFoundError(`${what}: host ${req.host} is not registered`);
  const state = getNetworkState(tx, net.key);
  const ipv4 = Ipv4Allocator.fromJSON(state.ipv4);
  if (blockPrefixLength(ipv4.prefixLen) === undefined) {
    throw new ConflictError(`${what}: no free block: subnet ${net.subnet} is too small for blocks`);
  }
  const held = new Set(listBlocks(tx, net.key).map((b) => b.cidr));
  const macFree = (address: string) => !tx.get<MacHolder>(macKey(net.key, macFromIpv4(address)));
  const choice = chooseBlock(ipv4, held, macFree);
  if (!choice) throw new ConflictError(`${what}: no free block: no range of subnet ${net.subnet} is half free`);
  for (const address of choice.addresses) ipv4.reserve(address);
  tx.put(networkStateKey(net.key), { ...state, ipv4: ipv4.toJSON() } satisfies NetworkState);
  const block: AddressBlock = { tenantName: net.tenantName, networkName: net.networkName, host: req.host, cidr: choice.cidr, addresses: choice.addresses, assigned: {} };
  tx.put(blockKey(net.key, block.cidr), block);
  return block;
}

/** Gives the block's addresses back to the network and forgets it, whatever it has assigned. */
function dropBlock(tx: Tx, networkKey: string, block: AddressBlock): void {
  const state = tx.get<NetworkState>(networkStateKey(networkKey));
  if (state) {
    const ipv4 = Ipv4Allocator.fromJSON(state.ipv4);
    for (const address of block.addresses) ipv4.release(address);
    tx.put(networkStateKey(networkKey), { ...state, ipv4: ipv4.toJSON() } satisfies NetworkState);
  }
  tx.delete(blockKey(networkKey, block.cidr));
}

/**
 * Releases an empty block of the network ("tenant:network"); when `host` is given, only that host's block.
 * NotFoundError when there is no such block, ConflictError while endpoints still hold addresses of it.
 */
export function releaseBlock(tx: Tx, networkKey: string, cidr: string, host?: string): AddressBlock {
  const block = tx.get<AddressBlock>(blockKey(networkKey, cidr));
  const what = `Cannot release address block ${cidr} of network ${networkKey}`;
  if (!block) throw new NotFoundError(`${what}: no such block`);
  if (host !== undefined && block.host !== host) throw new ConflictError(`${what}: it is host ${block.host}'s, not host ${host}'s`);
  const endpoints = Object.values(block.assigned);
  if (endpoints.length > 0) throw new ConflictError(`${what}: endpoints ${endpoints.join(", ")} still hold addresses of it`);
  dropBlock(tx, networkKey, block);
  return block;
}

/** Releases every block of the host (a host gone for good, its endpoints removed first). */
export function releaseHostBlocks(tx: Tx, host: string): AddressBlock[] {
  const blocks = tx.list<AddressBlock>(BLOCK_PREFIX).map(([, b]) => b).filter((b) => b.host === host);
  for (const block of blocks) dropBlock(tx, `${block.tenantName}:${block.networkName}`, block);
  return blocks;
}

/**
 * Whether an endpoint of `host` takes the address from a block: false when no block holds it; true when it
 * is a free address of one of the host's blocks (or already the same endpoint's); else a ConflictError
 * naming the block and its host.
 */
export function takesFromBlock(tx: Tx, net: Network, address: string, host: string, id: string): boolean {
  const block = blockHolding(tx, net.key, net.subnet, address);
  if (!block) return false;
  const what = `Cannot create endpoint ${id} with address ${address}`;
  if (block.host !== host) {
    throw new ConflictError(`${what}: address ${address} is in host ${block.host}'s address block ${block.cidr}: ask for it on ${block.host}, or choose one outside the blocks`);
  }
  const holder = block.assigned[address];
  if (holder !== undefined && holder !== id) throw new ConflictError(`${what}: endpoint ${holder} holds it already`);
  return true;
}

/** Records the address of the host's block (takesFromBlock said so) as the endpoint's. */
export function assignInBlock(tx: Tx, net: Network, address: string, id: string): void {
  const block = blockHolding(tx, net.key, net.subnet, address)!;
  tx.put(blockKey(net.key, block.cidr), { ...block, assigned: { ...block.assigned, [address]: id } } satisfies AddressBlock);
}

/**
 * Takes the endpoint's address off its block, which keeps holding it for its host; false when no block has
 * it assigned to this endpoint (the address is the network allocator's).
 */
export function unassignInBlock(tx: Tx, networkKey: string, subnet: string, address: string, id: string): boolean {
  const block = blockHolding(tx, networkKey, subnet, address);
  if (block?.assigned[address] !== id) return false;
  const { [address]: _gone, ...assigned } = block.assigned;
  tx.put(blockKey(networkKey, block.cidr), { ...block, assigned } satisfies AddressBlock);
  return true;
}

/**
 * The block whose host may yet give this MAC to one of its containers (it is derived from a free address of
 * the block, as the agent derives it), unless that address is `own`; the endpoint would collide with it.
 */
export function blockReservingMac(tx: Tx, net: Network, mac: string, own = ""): AddressBlock | undefined {
  const m = /^02:02:([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/.exec(mac.toLowerCase());
  if (!m) return undefined;
  const address = m.slice(1).map((h) => parseInt(h, 16)).join(".");
  if (address === own) return undefined;
  const block = blockHolding(tx, net.key, net.subnet, address);
  return block && block.assigned[address] === undefined ? block : undefined;
}
