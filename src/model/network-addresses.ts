// The address rules of a network that compare its fields with each other, checked once every field has
// its own format. Each problem names the field it is about. A network that breaks one of these could
// not be built on a host (a gateway that is the subnet's own network address, an IPv6 gateway with no
// IPv6 subnet) or would capture traffic the kernel keeps for itself (loopback, multicast, link-local).

import { ValidationError } from "../lib/errors.js";
import { specialOverlap } from "../lib/ip-scope.js";
import { formatIpv4Subnet, parseIpv4Subnet, tryParseIpv4, type Ipv4Subnet } from "../lib/ipv4.js";
import { formatIpv6Subnet, parseIpv6Subnet, tryParseIpv6, type Ipv6Subnet } from "../lib/ipv6.js";

export interface AddressFields {
  subnet: string;
  gateway: string;
  ipv6Subnet: string;
  ipv6Gateway: string;
}

export interface FieldProblem {
  path: keyof AddressFields;
  message: string;
}

function parsed<T>(parse: () => T): T | string {
  try {
    return parse();
  } catch (err) {
    if (err instanceof ValidationError) return err.message;
    throw err;
  }
}

function ipv4Problems(net: AddressFields): FieldProblem[] {
  const subnet = parsed(() => parseIpv4Subnet(net.subnet));
  if (typeof subnet === "string") return [{ path: "subnet", message: subnet }];
  const special = specialOverlap(4, BigInt(subnet.network), BigInt(subnet.broadcast));
  if (special !== undefined) return [{ path: "subnet", message: `subnet ${net.subnet} overlaps ${special}: containers cannot use it` }];
  if (net.gateway === "") return [];
  const problem = gatewayProblem(subnet, tryParseIpv4(net.gateway)!, net.gateway);
  return problem === undefined ? [] : [{ path: "gateway", message: problem }];
}

function gatewayProblem(subnet: Ipv4Subnet, gateway: number, text: string): string | undefined {
  const cidr = formatIpv4Subnet(subnet);
  if (gateway < subnet.network || gateway > subnet.broadcast) return `hostIP ${text} is exceeding beyond subnet ${cidr}`;
  if (gateway === subnet.network) return `gateway ${text} is the network address of ${cidr}: choose a host address`;
  if (gateway === subnet.broadcast) return `gateway ${text} is the broadcast address of ${cidr}: choose a host address`;
  return undefined;
}

function ipv6Problems(net: AddressFields): FieldProblem[] {
  if (net.ipv6Subnet === "") {
    return net.ipv6Gateway === "" ? [] : [{ path: "ipv6Gateway", message: `ipv6Gateway ${net.ipv6Gateway} needs an ipv6Subnet that holds it` }];
  }
  const subnet = parsed(() => parseIpv6Subnet(net.ipv6Subnet));
  if (typeof subnet === "string") return [{ path: "ipv6Subnet", message: subnet }];
  const last = subnet.network + (1n << BigInt(128 - subnet.prefixLen)) - 1n;
  const special = specialOverlap(6, subnet.network, last);
  if (special !== undefined) return [{ path: "ipv6Subnet", message: `ipv6Subnet ${net.ipv6Subnet} overlaps ${special}: containers cannot use it` }];
  if (net.ipv6Gateway === "") return [];
  const gateway = tryParseIpv6(net.ipv6Gateway);
  if (gateway === undefined) return [{ path: "ipv6Gateway", message: `invalid ipv6 gateway ${net.ipv6Gateway}` }];
  const problem = ipv6GatewayProblem(subnet, last, gateway, net.ipv6Gateway);
  return problem === undefined ? [] : [{ path: "ipv6Gateway", message: problem }];
}

function ipv6GatewayProblem(subnet: Ipv6Subnet, last: bigint, gateway: bigint, text: string): string | undefined {
  const cidr = formatIpv6Subnet(subnet);
  if (gateway < subnet.network || gateway > last) return `hostIP ${text} is exceeding beyond subnet ${cidr}`;
  if (gateway === subnet.network) return `ipv6Gateway ${text} is the subnet-router anycast address of ${cidr}: choose a host address`;
  return undefined;
}

/** Pure: what is wrong with the addresses of a network whose fields each have a valid format. */
export function addressProblems(net: AddressFields): FieldProblem[] {
  return [...ipv4Problems(net), ...ipv6Problems(net)];
}
