// The tenant DNS: one small server process per tenant namespace answering service, group and
// container names from the tenant's records (Contiv's inline DNS, reference §3.9) and
// forwarding everything else to the host's resolvers (relayed over IPC through the supervisor,
// which runs in the agent's namespace: tenant namespaces have no route to those resolvers).

export { DnsSupervisor } from "./supervisor.js";
export type { DnsBackoff, DnsConfig, DnsServerStatus, DnsSupervisorOptions } from "./supervisor.js";
export { DnsStats, ServerReport, ServerRequest } from "./ipc.js";
export { DNS_TTL, MAX_ANSWERS, EMPTY_RECORDS, NamedAddresses, RecordIndex, TenantRecords, lookup, normalizeName } from "./records.js";
export type { AddressAnswer, LookupResult, QueryKind } from "./records.js";
export { parseUpstream, FORWARD_TIMEOUT_MS } from "./forward.js";
export type { Upstream } from "./forward.js";
