// Pure: observations made without reading, for what is known without looking: a tenant namespace that does not
// exist yet holds nothing, and the container side of an endpoint new in a tenant applied without failure holds
// nothing of ours (incremental.ts).

import type { EndpointState, ObservedContainer, ObservedTenant } from "./state.js";

/** An ObservedTenant for a namespace that does not exist yet. */
export function emptyTenant(namespace: string, containers: ObservedContainer[] = []): ObservedTenant {
  return {
    namespace,
    exists: false,
    sysctls: {},
    loopbackUp: false,
    bridges: [],
    veths: [],
    ifbs: [],
    qdiscs: [],
    redirects: [],
    containers,
    nftTable: false,
    vxlans: [],
    fdb: [],
    neighbours: [],
    routes: [],
    hostRoutes: [],
    proxyNeighbours: [],
    natTag: null,
    route6Tag: null,
    lbTag: null,
    lbBackends: null,
  };
}

/**
 * The container side of an endpoint new in a tenant applied without failure (incremental.ts), as not made yet:
 * its namespace there, nothing of ours in it. Making the veth pair fails if the interface name is taken after
 * all, and the driver then reads it (driver.ts).
 */
export function containerNotMade(endpoint: EndpointState): ObservedContainer {
  return { hostLink: endpoint.hostLink, netns: endpoint.container.netns, netnsMissing: false, link: null, routes: [] };
}

