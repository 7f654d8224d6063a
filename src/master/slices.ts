// Which record belongs to whose slice (contract/slices.ts), indexed so a change finds its hosts without
// scanning: the keys of each tenant, of each host and of everyone, and where each tenant is present (how many
// of its endpoints are homed on each host). Pure bookkeeping, fed every change in revision order.

import { audienceOf, presenceOf, type Audience } from "../contract/slices.js";

/** A tenant that arrives on a host or leaves it with one change. */
export interface PresenceChange {
  tenant: string;
  host: string;
}

export interface IndexedChange {
  /** Whom the key went to before the change, and goes to after it (kind "none" when absent). */
  before: Audience;
  after: Audience;
  /** Tenants whose first endpoint on a host arrived, and whose last left, with this change. */
  gained: PresenceChange[];
  lost: PresenceChange[];
}

const NONE: Audience = { kind: "none" };

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (set === undefined) map.set(key, new Set([value]));
  else set.add(value);
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

export class SliceIndex {
  private readonly audiences = new Map<string, Audience>();
  private readonly presences = new Map<string, { tenant: string; host: string }>();
  private readonly tenantKeys = new Map<string, Set<string>>();
  private readonly hostKeys = new Map<string, Set<string>>();
  private readonly everyoneKeys = new Set<string>();
  private readonly catalogKeys = new Set<string>();
  /** tenant → host → endpoints of the tenant homed there. */
  private readonly presence = new Map<string, Map<string, number>>();

  /** Records a put (value) or a delete (value undefined) of `key`; says whom it concerns and how presence moved. */
  apply(key: string, value: unknown): IndexedChange {
    const before = this.audiences.get(key) ?? NONE;
    const after = value === undefined ? NONE : audienceOf(key, value);
    this.unindex(key, before);
    this.index(key, after);
    const gained: PresenceChange[] = [];
    const lost: PresenceChange[] = [];
    const was = this.presences.get(key);
    const now = value === undefined ? undefined : presenceOf(key, value);
    if (was?.tenant !== now?.tenant || was?.host !== now?.host) {
      if (was !== undefined && this.count(was, -1) === 0) lost.push(was);
      if (now !== undefined && this.count(now, +1) === 1) gained.push(now);
      if (now === undefined) this.presences.delete(key);
      else this.presences.set(key, now);
    }
    return { before, after, gained, lost };
  }

  /** Hosts where the tenant is present. */
  hostsOf(tenant: string): string[] {
    return [...(this.presence.get(tenant)?.keys() ?? [])];
  }

  isPresent(tenant: string, host: string): boolean {
    return this.presence.get(tenant)?.has(host) ?? false;
  }

  /** Tenants present on the host. */
  tenantsOn(host: string): string[] {
    return [...this.presence].filter(([, hosts]) => hosts.has(host)).map(([tenant]) => tenant);
  }

  /** The tenant's keys; with `catalog` false, without those a catalog subscriber has anyway. */
  keysOfTenant(tenant: string, catalog = true): string[] {
    const keys = [...(this.tenantKeys.get(tenant) ?? [])];
    return catalog ? keys : keys.filter((k) => !this.catalogKeys.has(k));
  }

  /** Every key a host's slice holds: everyone's, its own, those of tenants present on it, and the catalog if asked. */
  sliceOf(host: string, catalog: boolean): string[] {
    const keys = new Set([...this.everyoneKeys, ...(this.hostKeys.get(host) ?? [])]);
    for (const tenant of this.tenantsOn(host)) for (const k of this.tenantKeys.get(tenant) ?? []) keys.add(k);
    if (catalog) for (const k of this.catalogKeys) keys.add(k);
    return [...keys].sort();
  }

  isCatalog(key: string): boolean {
    return this.catalogKeys.has(key);
  }

  private count(at: { tenant: string; host: string }, delta: number): number {
    const hosts = this.presence.get(at.tenant) ?? new Map<string, number>();
    const n = (hosts.get(at.host) ?? 0) + delta;
    if (n <= 0) hosts.delete(at.host);
    else hosts.set(at.host, n);
    if (hosts.size === 0) this.presence.delete(at.tenant);
    else this.presence.set(at.tenant, hosts);
    return n;
  }

  private index(key: string, audience: Audience): void {
    switch (audience.kind) {
      case "none":
        return;
      case "all":
        this.everyoneKeys.add(key);
        break;
      case "host":
        addTo(this.hostKeys, audience.host, key);
        break;
      case "tenant":
        addTo(this.tenantKeys, audience.tenant, key);
        if (audience.catalog) this.catalogKeys.add(key);
        break;
    }
    this.audiences.set(key, audience);
  }

  private unindex(key: string, audience: Audience): void {
    this.audiences.delete(key);
    this.everyoneKeys.delete(key);
    this.catalogKeys.delete(key);
    if (audience.kind === "host") removeFrom(this.hostKeys, audience.host, key);
    if (audience.kind === "tenant") removeFrom(this.tenantKeys, audience.tenant, key);
  }
}
