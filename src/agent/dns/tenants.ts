// The DNS servers of this host's tenants: one per tenant namespace that has a gateway to answer on, started,
// updated and stopped as the host's desired state says (pipeline/compile.ts TenantDns).

import type { TenantDns } from "../pipeline/compile.js";

/** What TenantDnsServers needs of the supervisor that runs the servers (supervisor.ts DnsSupervisor). */
export interface DnsServers {
  ensure(namespace: string, config: { addresses: string[]; records: TenantDns["records"]; upstream: string[] }): void;
  remove(namespace: string): void;
}

export class TenantDnsServers {
  /** Namespaces with a server of ours. */
  private readonly running = new Set<string>();

  constructor(
    private readonly servers: DnsServers,
    /** Where names a tenant does not know are asked (the host's resolvers). */
    private readonly upstream: string[],
  ) {}

  /** Makes the servers match `tenants`: a server for each with an address to answer on, none for the rest. */
  apply(tenants: TenantDns[]): void {
    const wanted = new Set(tenants.filter((t) => t.addresses.length > 0).map((t) => t.namespace));
    for (const ns of this.running) {
      if (wanted.has(ns)) continue;
      this.servers.remove(ns);
      this.running.delete(ns);
    }
    for (const t of tenants) {
      if (!wanted.has(t.namespace)) continue;
      this.servers.ensure(t.namespace, { addresses: t.addresses, records: t.records, upstream: this.upstream });
      this.running.add(t.namespace);
    }
  }
}
