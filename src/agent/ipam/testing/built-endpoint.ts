// What a CNI ADD builds for an address of the host's block, for LocalIpam's tests: endpoint "net.t-<container>" of
// tenant t, network net, on host h1.

import { macFromIpv4 } from "../../../contract/api.js";
import type { EndpointState } from "../../../contract/records.js";
import type { BlockEndpoint } from "../local-endpoint.js";

export function built(container: string) {
  return (address: string): BlockEndpoint => {
    const endpoint: EndpointState = {
      endpointID: `net.t-${container}`, tenantName: "t", networkName: "net", groupName: "", containerID: container, containerName: "",
      ipAddress: address, ipv6Address: "", macAddress: macFromIpv4(address), homingHost: "h1", intfName: "", vtepIP: "", labels: {}, requestedIp: false,
    };
    return {
      reply: { endpoint, network: { subnetLen: 24, gateway: "", ipv6SubnetLen: 0, ipv6Gateway: "", pktTag: 1, extPktTag: 1, encap: "vxlan" }, groupId: 0, revision: 0 },
      request: { tenantName: "t", networkName: "net", containerID: container, host: "h1", ipAddress: address, macAddress: macFromIpv4(address), fromBlock: true },
    };
  };
}
