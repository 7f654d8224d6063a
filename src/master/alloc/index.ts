// Allocators the netmaster keeps in the state store: IPv4 and IPv6 addresses
// per network, IPv4 addresses per endpoint-group ip-pool, hosts' address blocks, and cluster-wide
// VLAN ids and VXLAN VNIs. Each is a pure state machine: load with fromJSON()
// inside a store transaction, call methods, write toJSON() back.

export { Bitset } from "./bitset.js";
export { CorruptStateError } from "./corrupt.js";
export { formatRuns } from "./ranges.js";
export {
  formatIpv4,
  formatIpv4Subnet,
  parseIpv4,
  parseIpv4Subnet,
  subnetBounds,
  tryParseIpv4,
  tryParseIpv4Range,
  type Ipv4Range,
  type Ipv4Subnet,
} from "../../lib/ipv4.js";
export { Ipv4Allocator, type Ipv4AllocatorJSON } from "./ipv4-allocator.js";
export { blockCidrOf, blockPrefixLength, chooseBlock, type BlockChoice } from "./blocks.js";
export { PoolAllocator, type PoolAllocatorJSON } from "./pool-allocator.js";
export {
  formatIpv6,
  formatIpv6Subnet,
  ipv6SubnetBounds,
  parseIpv6,
  parseIpv6Subnet,
  tryParseIpv6,
  type Ipv6Subnet,
} from "../../lib/ipv6.js";
export { Ipv6Allocator, type Ipv6AllocatorJSON } from "./ipv6.js";
export {
  formatTagRange,
  parseTagRange,
  VlanAllocator,
  VxlanAllocator,
  type TagKind,
  type TagRange,
  type VlanAllocatorJSON,
  type VxlanAllocation,
  type VxlanAllocatorJSON,
} from "./tags.js";
