// What the OVS driver wants of a local endpoint's port: decided by render.ts (wantedPorts), used by the driver to
// plumb it and by shapers.ts to limit it.

import type { DesiredEndpoint } from "../types.js";

export interface WantedPort {
  /** The host side of the endpoint's veth (DesiredEndpoint.hostLink). */
  name: string;
  endpoint: DesiredEndpoint;
  tenant: string;
  /** The port's VLAN inside the bridge (its `tag`): its network's, for multicast snooping (render.ts snoopingVlans). */
  vlan: number;
}
