// Test helper: what a simulated host's datapath holds, read the way its driver keeps it (the Linux driver's
// kernel objects in the tenant namespace, or the OVS driver's flows on the host's bridge), so an end-to-end test
// asserts the same fact against either driver (NETPLUGIN_CLUSTER_DATAPATH).

import type { ClusterHost } from "../../src/cluster/index.js";
import { bridgeName as bridgeNameOf, gatewayTenantLink, hostPrefix, tenantNamespace } from "../../src/datapath/names.js";
import { bridgeName } from "../../src/datapath/ovs/render.js";
import { must, run } from "../../src/lib/process.js";

/** Our flows on the host's OVS bridge (ovs-ofctl dump-flows). */
async function flows(host: ClusterHost): Promise<string> {
  return must(["ovs-ofctl", "-O", "OpenFlow15", "dump-flows", `unix:${host.ovs!.dir}/${bridgeName(hostPrefix(host.name))}.mgmt`]);
}

/** The host forwards frames to `mac` in `tenant` (Linux: its bridges' FDB; OVS: a delivery flow to that MAC). */
export async function knowsMac(host: ClusterHost, tenant: string, mac: string): Promise<boolean> {
  if (host.ovs !== undefined) return (await flows(host)).includes(`dl_dst=${mac}`);
  return (await run(["bridge", "-n", tenantNamespace(hostPrefix(host.name), tenant), "fdb", "show"])).stdout.includes(mac);
}

/**
 * The host answers ARP for the tenant's containers on other hosts itself (arpMode proxy), rather than flooding
 * requests to the other hosts (flood). Linux: its VXLAN devices' proxy flag; OVS: ARP responders for remote addresses.
 */
export async function proxiesArp(host: ClusterHost, tenant: string, remoteIp: string): Promise<boolean> {
  // The endpoints' responders (render.ts, priority 90), not the gateway namespace's (95, in either mode).
  if (host.ovs !== undefined) return (await flows(host)).split("\n").some((f) => f.includes("priority=90,") && f.includes(`arp_tpa=${remoteIp},`));
  const r = await run(["ip", "-n", tenantNamespace(hostPrefix(host.name), tenant), "-d", "-j", "link", "show", "type", "vxlan"]);
  const links = JSON.parse(r.stdout || "[]") as { linkinfo: { info_data: { proxy?: boolean } } }[];
  return links.length > 0 && links.every((l) => l.linkinfo.info_data.proxy === true);
}

/**
 * The link of the tenant namespace through which it reaches a network's containers on this host (Linux: the
 * network's bridge; OVS: the namespace's end of the network's gateway veth).
 */
export function networkLink(host: ClusterHost, network: string): string {
  return host.ovs !== undefined ? gatewayTenantLink(network) : bridgeNameOf(network);
}
