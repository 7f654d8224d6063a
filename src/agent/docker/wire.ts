// libnetwork's remote driver API (NetworkDriver and IpamDriver, plugin API
// v1.2) as dockerd 20.10 speaks it: one POST /<Interface>.<Method> per call,
// a JSON body without Content-Type (`{}` for calls without arguments), a JSON
// answer. Go marshals nil maps and slices as null, so every collection may be
// null. Errors: the NetworkDriver answers {"Err": …}, the IpamDriver
// {"Error": …}; dockerd reads only its own field (an IPAM answer with "Err" is
// taken for a success).

import { z } from "zod";
import { ValidationError } from "../../lib/errors.js";

const Str = z.string().max(4096);
const Id = z.string().min(1).max(128);
const AnyMap = z.record(z.string(), z.unknown()).nullish().transform((m) => m ?? {});
const StrMap = z
  .record(z.string(), z.unknown())
  .nullish()
  .transform((m) => Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])));

export const Implements = ["NetworkDriver", "IpamDriver"] as const;

/** Docker's option keys. */
export const GENERIC_OPTIONS = "com.docker.network.generic";
export const ENABLE_IPV6 = "com.docker.network.enable_ipv6";
export const GATEWAY_DATA = "com.docker.network.gateway";
/** `-p`: [{Proto: 6|17|132, IP, Port, HostIP, HostPort, HostPortEnd}] on CreateEndpoint, Join and ProgramExternalConnectivity. */
export const PORT_MAP = "com.docker.network.portmap";
export const REQUEST_ADDRESS_TYPE = "RequestAddressType";

// ---- IpamDriver ---------------------------------------------------------------------------

export const RequestPool = z.object({
  AddressSpace: Str.default(""),
  Pool: Str.default(""),
  SubPool: Str.default(""),
  Options: StrMap,
  V6: z.boolean().default(false),
});
export type RequestPool = z.infer<typeof RequestPool>;

export const ReleasePool = z.object({ PoolID: Id });

export const RequestAddress = z.object({ PoolID: Id, Address: Str.default(""), Options: StrMap });
export type RequestAddress = z.infer<typeof RequestAddress>;

export const ReleaseAddress = z.object({ PoolID: Id, Address: Str.min(1) });

// ---- NetworkDriver ------------------------------------------------------------------------

const IPAMData = z.object({
  AddressSpace: Str.default(""),
  Pool: Str.default(""),
  Gateway: Str.default(""),
  AuxAddresses: StrMap,
});
export type IPAMData = z.infer<typeof IPAMData>;

export const CreateNetwork = z.object({
  NetworkID: Id,
  Options: AnyMap,
  IPv4Data: z.array(IPAMData).nullish().transform((a) => a ?? []),
  IPv6Data: z.array(IPAMData).nullish().transform((a) => a ?? []),
});
export type CreateNetwork = z.infer<typeof CreateNetwork>;

export const NetworkOnly = z.object({ NetworkID: Id });

const Interface = z
  .object({ Address: Str.default(""), AddressIPv6: Str.default(""), MacAddress: Str.default("") })
  .nullish()
  .transform((i) => i ?? { Address: "", AddressIPv6: "", MacAddress: "" });

export const CreateEndpoint = z.object({ NetworkID: Id, EndpointID: Id, Interface, Options: AnyMap });
export type CreateEndpoint = z.infer<typeof CreateEndpoint>;

export const EndpointOnly = z.object({ NetworkID: Id, EndpointID: Id });

export const ExternalConnectivity = z.object({ NetworkID: Id, EndpointID: Id, Options: AnyMap });
export type ExternalConnectivity = z.infer<typeof ExternalConnectivity>;

/** One `-p` binding (libnetwork types.PortBinding); HostPortEnd > HostPort: any port of the range. */
const PortBinding = z.object({
  Proto: z.number().int(),
  IP: Str.nullish().transform((v) => v ?? ""),
  Port: z.number().int(),
  HostIP: Str.nullish().transform((v) => v ?? ""),
  HostPort: z.number().int(),
  HostPortEnd: z.number().int().default(0),
});
export type PortBinding = z.infer<typeof PortBinding>;

/** The port bindings in a call's Options; throws ValidationError naming the bad field. */
export function portBindings(options: Record<string, unknown>, method: string): PortBinding[] {
  const parsed = z.array(PortBinding).nullish().safeParse(options[PORT_MAP]);
  if (parsed.success) return parsed.data ?? [];
  const detail = parsed.error.issues.map((i) => `${[PORT_MAP, ...i.path].join(".")}: ${i.message}`).join("; ");
  throw new ValidationError(`Invalid ${method} request: ${detail}`);
}
export type EndpointOnly = z.infer<typeof EndpointOnly>;

export const Join = z.object({ NetworkID: Id, EndpointID: Id, SandboxKey: Str.min(1), Options: AnyMap });
export type Join = z.infer<typeof Join>;

export interface CreateEndpointResponse {
  /** Only what Docker did not give: answering a field it set is an error in dockerd. */
  Interface: { Address?: string; AddressIPv6?: string; MacAddress?: string };
}

export interface JoinResponse {
  InterfaceName: { SrcName: string; DstPrefix: string };
  Gateway?: string;
  GatewayIPv6?: string;
  /** No docker_gwbridge for our containers, even on a network without a gateway. */
  DisableGatewayService: boolean;
}

/** A call's answer body; errors go in the interface's own field. */
export function errorBody(iface: "NetworkDriver" | "IpamDriver" | "Plugin", message: string): Record<string, string> {
  return iface === "IpamDriver" ? { Error: message } : { Err: message };
}

/** Parses a request body; throws ValidationError naming the bad fields. */
export function parseCall<T extends z.ZodType>(schema: T, body: unknown, method: string): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const detail = parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
  throw new ValidationError(`Invalid ${method} request: ${detail}`);
}
