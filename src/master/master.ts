// Netmaster: owns intent. It validates and stores config objects, runs their
// controllers, allocates, and answers inspect queries. Only the leader
// mutates; every replica serves reads from its cache (cache.ts).

import { randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import { ConflictError, errorMessage, NotFoundError, UpstreamError, ValidationError } from "../lib/errors.js";
import { kindByCollection, parseObject, type ModelObject, type ObjectKind, type ServiceLB } from "../model/index.js";
import { LeaderElection } from "../store/index.js";
import type { Store } from "../store/types.js";
import { StateCache } from "./cache.js";
import { createEndpoint, deleteEndpoint, setEndpointLease } from "./endpoints.js";
import { BgpReport, BlockRequest, Counters, EndpointLease, EndpointOperReport, EndpointRequest, HostName, HostRegistration, type BlockReply, type EndpointReply } from "../contract/api.js";
import type { HostRecord } from "../contract/records.js";
import * as docker from "./docker/index.js";
import { inspectEndpoint, inspectObject, serviceProviders } from "./inspect.js";
import { AUTH_PREFIX, AUTH_SECRETS_KEY, blockKey, dockerNetworkKey, endpointKey, HOST_PREFIX, LEADER_KEY, objectKey, objectPrefix, serviceStateKey } from "../contract/keys.js";
import type { AddressBlock } from "../contract/records.js";
import { grantBlock, releaseBlock } from "./blocks.js";
import { tryParseIpv4 } from "./alloc/index.js";
import { AuthService, type AuthOptions } from "./auth/service.js";
import type { AccessLookups } from "./auth/access.js";
import { controllerFor, defaultGlobal, GLOBAL_KEY, type MasterSettings } from "./objects/index.js";
import type { EndpointState } from "./records.js";
import { deregisterHost, listHosts, registerHost, reportEndpointOper, type HostRemoval, type HostSummary } from "./hosts.js";
import type { StreamingApi } from "hono/utils/stream";
import { readEpochs, recordEpoch } from "./epochs.js";
import { StateStreams, type ResumePoint } from "./watch-stream.js";
import type { WatchQuery } from "../contract/stream.js";
import { z } from "zod";
import { MasterMetrics } from "./metrics.js";
import { hostWideRealization, realization, RealizationReport, type Realization, type RealizationScope } from "./realization.js";
import { Mutator, Tx } from "./tx.js";
import { traceFlow, type TraceResult } from "./trace.js";
import { tenantRevision } from "./trace-policy.js";
import { parseTraceQuery } from "./trace-query.js";
import { FlowReports } from "./flows.js";
import { FlowPush, FlowsQuery, type FlowsAnswer } from "../contract/flows.js";

export interface NetmasterOptions {
  store: Store;
  settings: MasterSettings;
  /** How other replicas reach this one, e.g. "http://127.0.0.1:9999"; also its leader-election id. */
  advertiseUrl: string;
  log: Logger;
  /** Leader lease time to live; a dead leader is replaced within about this long. */
  leaderTtlSeconds?: number;
  /** Users, tokens and host credentials (auth/service.ts). */
  auth?: AuthOptions;
}



/** The records a policy's realization is made of: it and its rules (a removed rule re-writes the policy). */
function policyKeys(tx: Tx, policyKey: string): string[] {
  return [objectKey("policy", policyKey), ...tx.list(objectKey("rule", `${policyKey}:`)).map(([k]) => k)];
}

/** An agent resends what it applied every 15 s (agent/realization.ts): silent for this long, it is not running. */
const AGENT_SILENCE_MS = 40_000;

export class Netmaster {
  /**
   * Per-rule packet counters as each host last reported them. Kept in the leader's memory only:
   * they change every few seconds and are worthless after a restart of the hosts' tables anyway.
   */
  private readonly hostCounters = new Map<string, z.infer<typeof Counters>["rules"]>();
  /** Each host's last BGP report (session and learned routes), leader memory only like the counters. */
  private readonly hostBgp = new Map<string, z.infer<typeof BgpReport>>();
  /** What each host's last datapath sync applied (realization.ts), leader memory only like the counters. */
  private readonly hostRealized = new Map<string, RealizationReport & { at: number }>();
  /** Each host's last flow records (flows.ts), leader memory only like the counters. */
  private readonly hostFlows = new FlowReports();
  /** Epochs seen on this store's list (watch-stream.ts): it only ever grows while this process runs. */
  private readonly knownEpochs = new Set<string>();

  /** Names this process's state stream (watch-stream.ts). */
  readonly streamEpoch = randomUUID();
  readonly metrics: MasterMetrics;

  /** The agents' state streams, each its host's slice. */
  private readonly streams: StateStreams;
  /** Users, authorizations, logins and host credentials. */
  readonly auth: AuthService;

  private constructor(
    private readonly options: NetmasterOptions,
    readonly cache: StateCache,
    private readonly mutator: Mutator,
    private readonly election: LeaderElection,
  ) {
    this.metrics = new MasterMetrics({ revision: () => cache.currentRevision, isLeader: () => election.isLeader() });
    this.streams = new StateStreams(cache, this.streamEpoch);
    this.auth = new AuthService({ view: () => this.view(), mutate: (fn) => this.mutate(fn), log: options.log }, options.auth);
  }

  static async start(options: NetmasterOptions): Promise<Netmaster> {
    const { store, log } = options;
    const cache = await StateCache.open(store, (err) => log.warn({ err: err.message }, "state watch restarted"));
    // Late-bound: the election's callbacks need the master, which needs the election.
    let master: Netmaster | undefined;
    const election = new LeaderElection({
      store,
      key: LEADER_KEY,
      id: options.advertiseUrl,
      ttlSeconds: options.leaderTtlSeconds ?? 5,
      onElected: () => {
        log.info({ id: options.advertiseUrl }, "became leader");
        // Reports from an earlier term may be stale: hosts send theirs again within seconds.
        master?.hostRealized.clear();
        master?.initDefaults().catch((err: unknown) => log.error({ err }, "cannot write default objects"));
        master?.auth.bootstrap().catch((err: unknown) => log.error({ err: errorMessage(err) }, "cannot create the first admin and the cluster's secrets"));
      },
      onLostLeadership: () => log.warn({ id: options.advertiseUrl }, "lost leadership"),
      onError: (err) => log.warn({ err: err.message }, "leader election"),
    });
    const fence = {
      compare: { key: LEADER_KEY, target: "value" as const, equals: options.advertiseUrl },
      holds: () => election.isLeader(),
    };
    const mutator = new Mutator(store, cache, fence);
    master = new Netmaster(options, cache, mutator, election);
    // Every replica keeps the join token file current for agents on its machine.
    const auth = master.auth;
    const writeJoinToken = () => {
      try {
        auth.writeJoinToken();
      } catch (err) {
        log.error({ err: errorMessage(err) }, "cannot write the join token file");
      }
    };
    cache.onChange((event) => event.key === AUTH_SECRETS_KEY && writeJoinToken());
    // A reload (compacted history, broken watch) brings no change events.
    cache.onReload(writeJoinToken);
    writeJoinToken();
    await recordEpoch(store, master.streamEpoch);
    election.start();
    return master;
  }

  get advertiseUrl(): string {
    return this.options.advertiseUrl;
  }

  get isLeader(): boolean {
    return this.election.isLeader();
  }

  /** URL of the current leader, if any; read from the store so followers know where to forward writes. */
  async leaderUrl(): Promise<string | undefined> {
    return this.election.leader();
  }

  async stop(): Promise<void> {
    await this.election.resign().catch(() => undefined);
    this.cache.close();
  }

  /** The global object and the tenant "default" exist on a fresh system; existing ones are left alone. */
  private async initDefaults(): Promise<void> {
    await this.mutate((tx) => {
      if (!tx.get(objectKey("global", GLOBAL_KEY))) {
        const g = defaultGlobal(this.options.settings);
        controllerFor("global").create(tx, g, this.options.settings);
        tx.put(objectKey("global", GLOBAL_KEY), g);
      }
      if (!tx.get(objectKey("tenant", "default"))) {
        const tenant = { key: "default", tenantName: "default", defaultNetwork: "" };
        controllerFor("tenant").create(tx, tenant as ModelObject, this.options.settings);
        tx.put(objectKey("tenant", "default"), tenant);
      }
    });
  }

  private mutate<R>(fn: (tx: Tx) => R): Promise<R> {
    if (!this.isLeader) throw new UpstreamError("This netmaster is not the leader");
    return this.mutator.run(fn);
  }

  private view(): Tx {
    return new Tx(this.cache);
  }

  kind(collection: string): ObjectKind {
    const kind = kindByCollection(collection);
    if (!kind) throw new NotFoundError(`Unknown object type "${collection}"`);
    return kind;
  }

  list(kind: ObjectKind): ModelObject[] {
    return this.view()
      .list<ModelObject>(objectPrefix(kind.type))
      .map(([, v]) => v);
  }

  get(kind: ObjectKind, key: string): ModelObject {
    const obj = this.view().get<ModelObject>(objectKey(kind.type, key));
    if (!obj) throw new NotFoundError(`${kind.type} not found`);
    return obj;
  }

  /** Create or update, as Contiv's POST/PUT: re-sending the stored object unchanged is a no-op. */
  upsert(kind: ObjectKind, key: string, body: unknown): Promise<ModelObject> {
    const obj = parseObject(kind, key, body) as ModelObject;
    const controller = controllerFor(kind.type);
    const settings = this.options.settings;
    return this.mutate((tx) => {
      const k = objectKey(kind.type, key);
      const old = tx.get<ModelObject>(k);
      // By value: the stored copy's key order is the store's, not the parser's.
      if (old && isDeepStrictEqual(old, obj)) return old;
      if (old) controller.update(tx, old, obj, settings);
      else controller.create(tx, obj, settings);
      tx.put(k, obj);
      return obj;
    });
  }

  remove(kind: ObjectKind, key: string): Promise<void> {
    const controller = controllerFor(kind.type);
    return this.mutate((tx) => {
      const k = objectKey(kind.type, key);
      const old = tx.get<ModelObject>(k);
      if (!old) throw new NotFoundError(`${kind.type} not found`);
      controller.remove(tx, old, this.options.settings);
      tx.delete(k);
    });
  }

  inspect(kind: ObjectKind, key: string): { Config: ModelObject; Oper?: unknown } {
    const tx = this.view();
    const obj = tx.get<ModelObject>(objectKey(kind.type, key));
    if (!obj) throw new NotFoundError(`${kind.type} not found`);
    const result = inspectObject(tx, kind.type, obj);
    if (kind.type === "Bgp") {
      const report = this.hostBgp.get(key);
      result.Oper = report ?? { numRoutes: 0, neighborStatus: "", adminStatus: "", routes: [] };
    }
    if (kind.type === "serviceLB") {
      // A service is in force with its VIPs and its current providers.
      const svc = obj as ServiceLB;
      const keys = [objectKey(kind.type, key), serviceStateKey(key), ...serviceProviders(tx, svc).map((ep) => endpointKey(ep.endpointID))];
      result.Oper = { ...(result.Oper as object), realization: this.realizationOf({ tenant: svc.tenantName }, keys) };
    }
    if (kind.type === "global") {
      // Every host holds it; a setting its datapath cannot use (the linux one: sdnController) is named there.
      const revision = this.cache.get(objectKey(kind.type, key))?.modRevision ?? 0;
      const hosts = this.cache.list(HOST_PREFIX).map(([, entry]) => (entry.value as HostRecord).name);
      result.Oper = { ...(result.Oper as object), realization: hostWideRealization(hosts, this.hostRealized, revision) };
    }
    if (kind.type === "network" || kind.type === "tenant") {
      const net = obj as { tenantName: string; networkName?: string };
      const scope = net.networkName === undefined ? { tenant: net.tenantName } : { tenant: net.tenantName, network: net.networkName };
      result.Oper = { ...(result.Oper as object), realization: this.realizationOf(scope, [objectKey(kind.type, key)]) };
    }
    if (kind.type === "policy" && result.Oper) {
      const rules = tx.list<{ key: string; ruleId: string }>(objectKey("rule", `${key}:`));
      (result.Oper as Record<string, unknown>).realization = this.realizationOf({ tenant: (obj as { tenantName: string }).tenantName }, policyKeys(tx, key));
      (result.Oper as Record<string, unknown>).ruleStats = rules.map(([, r]) => {
        let packets = 0;
        let bytes = 0;
        for (const counters of this.hostCounters.values()) {
          packets += counters[r.key]?.packets ?? 0;
          bytes += counters[r.key]?.bytes ?? 0;
        }
        return { ruleId: r.ruleId, packets, bytes };
      });
    }
    return result;
  }

  reportBgp(host: string, body: unknown): void {
    parseBody(HostName, host, "host name");
    if (!this.isLeader) throw new UpstreamError("This netmaster is not the leader");
    this.hostBgp.set(host, parseBody(BgpReport, body, "BGP report"));
  }

  /** Flow records, kept like the counters. */
  reportFlows(host: string, body: unknown): void {
    parseBody(HostName, host, "host name");
    if (!this.isLeader) throw new UpstreamError("This netmaster is not the leader");
    this.hostFlows.report(host, parseBody(FlowPush, body, "flow records"));
  }

  /** GET /api/v1/flows: one tenant's records from every host. Throws NotFoundError for an unknown tenant. */
  flows(query: Record<string, string>): FlowsAnswer {
    const q = parseBody(FlowsQuery, query, "query");
    if (!this.view().get(objectKey("tenant", q.tenant))) throw new NotFoundError(`Cannot list flows: tenant ${JSON.stringify(q.tenant)} not found`);
    return this.hostFlows.query(q.tenant, q.denied === "true");
  }

  /** Counters are only read on the leader; followers forward policy inspects to it. */
  reportCounters(host: string, body: unknown): void {
    parseBody(HostName, host, "host name");
    if (!this.isLeader) throw new UpstreamError("This netmaster is not the leader");
    this.hostCounters.set(host, parseBody(Counters, body, "counters").rules);
  }

  /**
   * What the host's last sync applied, kept like the counters. Refused: a revision beyond this store's (an
   * agent still on an older history, or a replica ahead of the leader for a moment: the agent tries again),
   * and one from a netmaster process this store never had. Any replica's stream counts: agents follow
   * followers too, so an epoch's place in the list says nothing about its revisions here.
   */
  async reportRealized(host: string, body: unknown): Promise<void> {
    parseBody(HostName, host, "host name");
    const report = parseBody(RealizationReport, body, "realization report");
    if (!this.isLeader) throw new UpstreamError("This netmaster is not the leader");
    if (report.revision > this.cache.currentRevision || (report.revision > 0 && !(await this.knownEpoch(report.epoch)))) {
      throw new ConflictError(`Revision ${report.revision} of stream ${report.epoch || "(none)"} is not part of this store's history`);
    }
    this.hostRealized.set(host, { ...report, at: Date.now() });
  }

  /** Whether a netmaster process with this epoch opened this store; the list is read again only for an epoch not seen yet. */
  private async knownEpoch(epoch: string): Promise<boolean> {
    if (this.knownEpochs.has(epoch)) return true;
    for (const e of await readEpochs(this.options.store)) this.knownEpochs.add(e.epoch);
    return this.knownEpochs.has(epoch);
  }

  /** The endpoint's oper state, and whether its membership and its group's policies are in force on every host; and its tenant. */
  inspectEndpoint(id: string): { inspect: { Oper: object }; tenant: string } {
    const tx = this.view();
    const { Oper, endpoint: ep } = inspectEndpoint(tx, id);
    const keys = [endpointKey(ep.endpointID)];
    if (ep.groupName) {
      const groupKey = objectKey("endpointGroup", `${ep.tenantName}:${ep.groupName}`);
      keys.push(groupKey);
      for (const policy of tx.get<{ policies: string[] }>(groupKey)?.policies ?? []) keys.push(...policyKeys(tx, `${ep.tenantName}:${policy}`));
    }
    const realization = this.realizationOf({ tenant: ep.tenantName, network: ep.networkName, endpoint: ep.endpointID }, keys);
    return { inspect: { Oper: { ...Oper, realization } }, tenant: ep.tenantName };
  }

  /**
   * Whether the newest change among `keys` (all of `scope`) is in force on every host that must have it (the
   * registered hosts where its tenant is present: they alone hold its records), and why not.
   */
  private realizationOf(scope: RealizationScope, keys: string[]): Realization {
    const revision = Math.max(0, ...keys.map((k) => this.cache.get(k)?.modRevision ?? 0));
    const present = new Set(this.streams.hostsOf(scope.tenant));
    const hosts = this.cache.list(HOST_PREFIX).map(([, entry]) => (entry.value as HostRecord).name).filter((h) => present.has(h));
    return realization(hosts, this.hostRealized, scope, revision);
  }

  /** Why A can or cannot reach B (trace.ts): from the state and the hosts' last reports, which only the leader holds. */
  trace(query: Record<string, string>): TraceResult {
    const q = parseTraceQuery(query);
    return traceFlow(q, { state: this.view(), tenantRevision: tenantRevision(this.cache, q.tenant), currentRevision: this.cache.currentRevision, reports: this.hostRealized });
  }

  createEndpoint(body: unknown): Promise<EndpointReply> {
    const req = parseBody(EndpointRequest, body, "endpoint request");
    return this.withRevision(this.mutate((tx) => createEndpoint(tx, req)));
  }

  /** Records the DHCP lease an agent holds for an endpoint of an ipam dhcp network (endpoints.ts setEndpointLease). */
  setEndpointLease(id: string, body: unknown): Promise<EndpointReply> {
    const req = parseBody(EndpointLease, body, "endpoint lease");
    return this.withRevision(this.mutate((tx) => setEndpointLease(tx, id, req)));
  }

  /** A new block of the network's IPv4 addresses for the host to assign itself (blocks.ts). */
  grantBlock(body: unknown): Promise<BlockReply> {
    const req = parseBody(BlockRequest, body, "block request");
    return this.withRevision(this.mutate((tx) => ({ block: grantBlock(tx, req) })));
  }

  /**
   * Gives an empty block back (blocks.ts); `host`, when given, must be the block's. `cidr` as in a path:
   * "10.1.0.64/26" or, as in its key, "10.1.0.64_26".
   */
  releaseBlock(networkKey: string, cidr: string, host?: string): Promise<BlockReply> {
    const canonical = blockCidrParam(cidr);
    return this.withRevision(this.mutate((tx) => ({ block: releaseBlock(tx, networkKey, canonical, host) })));
  }

  /** The reply with the revision the cache holds once the write is in (Mutator.run waits for it). */
  private async withRevision<T extends object>(reply: Promise<T>): Promise<T & { revision: number }> {
    return { ...(await reply), revision: this.cache.currentRevision };
  }

  reportEndpointOper(id: string, body: unknown): Promise<EndpointState> {
    const report = parseBody(EndpointOperReport, body, "endpoint oper report");
    return this.mutate((tx) => reportEndpointOper(tx, id, report));
  }

  /**
   * Removes a host gone for good with all it held (hosts.ts), and what it reported. Refused while its agent
   * still reports, unless forced: a running agent would see its containers' endpoints vanish.
   */
  async deregisterHost(name: string, options: { force?: boolean } = {}): Promise<HostRemoval> {
    parseBody(HostName, name, "host name");
    const last = this.hostRealized.get(name)?.at;
    if (!options.force && last !== undefined && Date.now() - last < AGENT_SILENCE_MS) {
      throw new ConflictError(
        `Cannot remove host ${name}: its agent reported ${Math.round((Date.now() - last) / 1000)} s ago; stop it first, or remove the host anyway with --force`,
      );
    }
    const removal = await this.mutate((tx) => deregisterHost(tx, name));
    this.hostRealized.delete(name);
    this.hostCounters.delete(name);
    this.hostFlows.forget(name);
    this.hostBgp.delete(name);
    return removal;
  }

  /** Hosts (hosts.ts) and how long ago each one's agent last reported, as the leader heard it. */
  listHosts(): (HostSummary & { reportedSecondsAgo: number | null })[] {
    const now = Date.now();
    return listHosts(this.view()).map((h) => {
      const at = this.hostRealized.get(h.name)?.at;
      return { ...h, reportedSecondsAgo: at === undefined ? null : Math.floor((now - at) / 1000) };
    });
  }

  registerHost(name: string, body: unknown): Promise<HostRecord> {
    parseBody(HostName, name, "host name");
    const reg = parseBody(HostRegistration, body, "host registration");
    return this.mutate((tx) => registerHost(tx, name, reg));
  }

  /** Follows the state for an agent until the client disconnects (watch-stream.ts). */
  streamState(query: WatchQuery, out: StreamingApi): Promise<void> {
    const from: ResumePoint = { revision: query.revision, epoch: query.epoch };
    return this.streams.serve(query.host, query.catalog === "1", from, out, {
      lines: (count, bytes) => {
        this.metrics.streamLines.inc(count);
        this.metrics.streamBytes.inc(bytes);
      },
      snapshot: () => this.metrics.snapshots.inc(),
    });
  }

  deleteEndpoint(id: string): Promise<EndpointState> {
    return this.mutate((tx) => deleteEndpoint(tx, id));
  }

  // Docker's IPAM and network driver, served by the agents (docker/).
  dockerRequestPool(body: unknown): Promise<docker.DockerPoolReply> {
    const req = parseBody(docker.DockerPoolRequest, body, "pool request");
    return this.mutate((tx) => docker.requestDockerPool(tx, req));
  }

  dockerReleasePool(poolId: string): Promise<void> {
    return this.mutate((tx) => docker.releaseDockerPool(tx, poolId));
  }

  dockerRequestAddress(poolId: string, body: unknown): Promise<{ address: string }> {
    const req = parseBody(docker.DockerAddressRequest, body, "address request");
    return this.mutate((tx) => docker.requestDockerAddress(tx, poolId, req));
  }

  dockerReleaseAddress(poolId: string, body: unknown): Promise<void> {
    const { address } = parseBody(docker.DockerAddressRelease, body, "address release");
    return this.mutate((tx) => docker.releaseDockerAddress(tx, poolId, address));
  }

  dockerCreateNetwork(body: unknown): Promise<unknown> {
    const req = parseBody(docker.DockerNetworkRequest, body, "network request");
    return this.mutate((tx) => docker.createDockerNetwork(tx, req, this.options.settings));
  }

  dockerCreateEndpoint(body: unknown): Promise<EndpointReply> {
    const req = parseBody(EndpointRequest, body, "endpoint request");
    return this.withRevision(this.mutate((tx) => docker.createDockerEndpoint(tx, req)));
  }

  dockerDeleteNetwork(key: string): Promise<void> {
    return this.mutate((tx) => docker.deleteDockerNetwork(tx, key, this.options.settings));
  }

  dockerDeleteEndpoint(id: string): Promise<EndpointState> {
    return this.mutate((tx) => docker.deleteDockerEndpoint(tx, id));
  }

  /** Every key and value under our root but secrets and credentials, for operators and for tests that check nothing changed. */
  dump(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, entry] of this.cache.list("")) if (key !== LEADER_KEY && !key.startsWith(AUTH_PREFIX)) out[key] = entry.value;
    return out;
  }

  /** What access rules (auth/access.ts) need to know about existing records. */
  accessLookups(): AccessLookups {
    const tx = this.view();
    return {
      endpointHost: (id) => tx.get<EndpointState>(endpointKey(id))?.homingHost,
      poolHost: (poolId) => tx.get<docker.DockerPool>(docker.poolKey(poolId))?.host,
      dockerNetworkHost: (key) => tx.get<docker.DockerNetworkMaker>(dockerNetworkKey(key))?.host,
      blockHost: (networkKey, cidr) => {
        const canonical = tryBlockCidrParam(cidr);
        return canonical === undefined ? undefined : tx.get<AddressBlock>(blockKey(networkKey, canonical))?.host;
      },
    };
  }
}


function tryBlockCidrParam(text: string): string | undefined {
  const [address, len, ...rest] = text.replace("_", "/").split("/");
  if (rest.length > 0 || address === undefined || tryParseIpv4(address) === undefined || !/^[0-9]{1,2}$/.test(len ?? "") || Number(len) > 32) return undefined;
  return `${address}/${Number(len)}`;
}

function blockCidrParam(text: string): string {
  const cidr = tryBlockCidrParam(text);
  if (cidr === undefined) throw new ValidationError(`Invalid address block "${text}": expected a CIDR such as 10.1.0.64/26 (or 10.1.0.64_26)`);
  return cidr;
}

function parseBody<T extends z.ZodType>(schema: T, body: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
  const detail = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ");
  throw new ValidationError(`Invalid ${what}: ${detail}`, issues);
}
