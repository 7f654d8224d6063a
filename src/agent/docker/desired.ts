// How a Docker endpoint is described to the datapath: an attachment whose
// container side is the runtime's (netns.ts), made in dockerd's namespace
// as SrcName. It stays the same from Join to DeleteEndpoint, wherever dockerd
// moves the interface meanwhile, so a steady Docker endpoint costs a
// reconcile run nothing, and its tenant stays trusted between runs
// (datapath/linux/incremental.ts).

import type { Attachment } from "../attachments.js";
import type { EndpointRecord } from "./state.js";

export function dockerAttachment(rec: EndpointRecord, dockerNetns: string): Attachment {
  return {
    endpointId: rec.endpointId,
    containerId: rec.id,
    ifname: rec.srcName,
    netns: dockerNetns,
    containerSide: "runtime",
    tenant: rec.tenant,
    network: rec.network,
    group: rec.group,
    cniNetwork: "",
    portMappings: rec.portMappings,
  };
}
