// Oper-only shapes shared by every inspect response that lists endpoints.
// Contiv's Go structs tag every oper field `omitempty`, so each one may be absent on the wire.

import { z } from "zod";

/** One endpoint as inspect responses show it (reference §1.14). */
export const EndpointOper = z.object({
  /** Present only on `GET /api/v1/inspect/endpoints/{id}/`: the id that was asked for. */
  key: z.string().optional(),
  containerID: z.string().optional(),
  containerName: z.string().optional(),
  endpointGroupId: z.int().optional(),
  /** `group:tenant` */
  endpointGroupKey: z.string().optional(),
  endpointID: z.string().optional(),
  homingHost: z.string().optional(),
  intfName: z.string().optional(),
  /** [IPv4, IPv6]; the IPv6 entry is "" when the endpoint has none. */
  ipAddress: z.array(z.string()).optional(),
  /** Not Contiv's: where the addresses came from, "netmaster" or "cni:<IPAM plugin>" (delegated IPAM). */
  ipamSource: z.string().optional(),
  /** Go's `%s` of the label map, e.g. `map[app:web]`. */
  labels: z.string().optional(),
  macAddress: z.string().optional(),
  /** `network.tenant` */
  network: z.string().optional(),
  /** The endpoint group name. */
  serviceName: z.string().optional(),
  /** "v" + the host-side port name. */
  virtualPort: z.string().optional(),
  vtepIP: z.string().optional(),
});
export type EndpointOper = z.infer<typeof EndpointOper>;

/** The body of every inspect response: `{"Config": …, "Oper": …}` (capitalised, as in Go). */
export interface Inspect<C, O = never> {
  Config: C;
  Oper?: O;
}
