// The cluster store: the Store contract on etcd v3, for several netmaster replicas.
//
// Calls go through etcd3's connection pool (which spreads them over the endpoints, retries
// on another endpoint when one fails and stops trying a failing one for a while) using its
// raw gRPC clients, so the mapping to etcd's API is explicit. Every unary call carries a
// deadline: an unreachable etcd becomes an UpstreamError instead of a hang. Watches and
// lease keep-alives are in etcd-watch.ts and etcd-lease.ts.

import { Etcd3, type ICompare, type IKeyValue, type IRequestOp } from "etcd3";
import { NotFoundError, ValidationError } from "../lib/errors.js";
import { toStoreError } from "./etcd-errors.js";
import { EtcdLease } from "./etcd-lease.js";
import { EtcdWatch } from "./etcd-watch.js";
import { assertKey, assertTxnKeys, prefixEndBytes } from "./key-range.js";
import type {
  Compare,
  KeyValue,
  Lease,
  ListResult,
  Op,
  Store,
  TxnResult,
  WatchEvent,
  WatchOptions,
  Watcher,
} from "./types.js";

export interface EtcdStoreOptions {
  /** Client URLs of the members: "host:port" or "http://host:port". */
  endpoints: string[];
  /** Deadline of each unary call on one endpoint. Default 5 000 ms. */
  callTimeoutMs?: number;
  /** How long a watch may fail to reconnect before reporting an UpstreamError. Default 15 000 ms. */
  watchReconnectTimeoutMs?: number;
}

export class EtcdStore implements Store {
  /** As given, without scheme: used in error messages. */
  readonly endpoints: readonly string[];
  readonly #client: Etcd3;
  readonly #watchReconnectTimeoutMs: number;
  readonly #watches = new Set<EtcdWatch>();
  readonly #leases = new Set<EtcdLease>();
  #closed = false;

  constructor(options: EtcdStoreOptions) {
    if (options.endpoints.length === 0) {
      throw new ValidationError("Cannot connect to etcd: no endpoints given");
    }
    this.endpoints = options.endpoints.map((endpoint) => endpoint.replace(/^https?:\/\//, ""));
    const callTimeoutMs = options.callTimeoutMs ?? 5000;
    this.#watchReconnectTimeoutMs = options.watchReconnectTimeoutMs ?? 15_000;
    this.#client = new Etcd3({
      hosts: options.endpoints.map((endpoint) => (/^https?:\/\//.test(endpoint) ? endpoint : `http://${endpoint}`)),
      // Streams (watch, keep-alive) live as long as they are needed; only unary calls get a deadline.
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    });
  }

  async get(key: string): Promise<KeyValue | undefined> {
    assertKey(key, "get key");
    const res = await this.#call(`get "${key}"`, () => this.#client.kv.range({ key: Buffer.from(key) }));
    const kv = res.kvs[0];
    return kv === undefined ? undefined : toKeyValue(kv);
  }

  async list(prefix: string): Promise<ListResult> {
    const res = await this.#call(`list "${prefix}"`, () =>
      this.#client.kv.range({ ...prefixRange(prefix), sort_order: "Ascend", sort_target: "Key" }),
    );
    return { items: res.kvs.map(toKeyValue), revision: Number(res.header.revision) };
  }

  async put(key: string, value: string, options?: { lease?: string }): Promise<number> {
    assertKey(key, "put key");
    const res = await this.#call(`put "${key}"`, () =>
      this.#client.kv.put({ key: Buffer.from(key), value: Buffer.from(value), lease: options?.lease || 0 }),
    );
    return Number(res.header.revision);
  }

  async delete(key: string): Promise<boolean> {
    assertKey(key, "delete key");
    const res = await this.#call(`delete "${key}"`, () => this.#client.kv.deleteRange({ key: Buffer.from(key) }));
    return res.deleted !== "0";
  }

  async txn(compares: Compare[], success: Op[], failure: Op[] = []): Promise<TxnResult> {
    assertTxnKeys(compares, success);
    assertTxnKeys([], failure);
    const res = await this.#call("run transaction", () =>
      this.#client.kv.txn({
        compare: compares.map(toEtcdCompare),
        success: success.map(toEtcdOp),
        failure: failure.map(toEtcdOp),
      }),
    );
    return { succeeded: res.succeeded, revision: Number(res.header.revision) };
  }

  watch(
    prefix: string,
    onEvent: (event: WatchEvent) => void,
    onError: (err: Error) => void,
    options: WatchOptions = {},
  ): Watcher {
    const signal = options.signal;
    const onAbort = () => watch.close();
    const watch = new EtcdWatch({
      watchClient: this.#client.watchClient,
      endpoints: this.endpoints,
      prefix,
      onEvent,
      onError,
      fromRevision: options.fromRevision,
      // A closed client cannot reconnect: report the failure at once.
      reconnectTimeoutMs: this.#closed ? 0 : this.#watchReconnectTimeoutMs,
      onDone: (done) => {
        this.#watches.delete(done);
        signal?.removeEventListener("abort", onAbort);
      },
    });
    this.#watches.add(watch);
    if (signal?.aborted) watch.close();
    else signal?.addEventListener("abort", onAbort, { once: true });
    return watch;
  }

  async grantLease(ttlSeconds: number): Promise<Lease> {
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new ValidationError(`Cannot grant lease: TTL ${ttlSeconds} is not a whole number of seconds >= 1`);
    }
    const requestedAt = performance.now();
    const res = await this.#call("grant lease", () => this.#client.leaseClient.leaseGrant({ TTL: ttlSeconds }));
    // etcd raises a TTL below its minimum (1.5 election timeouts); the granted one is what counts.
    const lease = new EtcdLease(res.ID, Number(res.TTL), requestedAt, {
      leaseClient: this.#client.leaseClient,
      revoke: (leaseId) => this.#revoke(leaseId),
      onDone: (done) => this.#leases.delete(done),
    });
    this.#leases.add(lease);
    return lease;
  }

  /**
   * Revokes a lease by id, deleting its keys, as an operator would: a holder keeping it alive
   * (in any process) sees it lost. Idempotent: an unknown lease is not an error.
   */
  async revokeLease(leaseId: string): Promise<void> {
    await this.#revoke(leaseId);
  }

  async #revoke(leaseId: string): Promise<void> {
    try {
      await this.#call(`revoke lease "${leaseId}"`, () => this.#client.leaseClient.leaseRevoke({ ID: leaseId }));
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }

  /** Compacts etcd's history up to revision: watching from an older revision then raises CompactedError. */
  async compact(revision: number): Promise<void> {
    await this.#call(`compact to revision ${revision}`, () =>
      this.#client.kv.compact({ revision, physical: true }),
    );
  }

  /** Stops watches and lease keep-alives (leases then expire) and closes the connections. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const watch of [...this.#watches]) watch.close();
    for (const lease of [...this.#leases]) lease.stop();
    this.#client.close();
  }

  async #call<T>(action: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw toStoreError(err, action, this.endpoints);
    }
  }
}

function prefixRange(prefix: string): { key: Buffer; range_end: Buffer } {
  // etcd refuses an empty key; "\0" up to range end "\0" means every key.
  return { key: prefix === "" ? Buffer.from([0]) : Buffer.from(prefix), range_end: prefixEndBytes(prefix) };
}

function toKeyValue(kv: IKeyValue): KeyValue {
  return {
    key: kv.key.toString("utf8"),
    value: kv.value.toString("utf8"),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    lease: kv.lease === "0" ? "" : kv.lease,
  };
}

function toEtcdCompare(compare: Compare): ICompare {
  const key = Buffer.from(compare.key);
  switch (compare.target) {
    case "modRevision":
      // mod_revision 0 matches an absent key: etcd compares against an empty KeyValue.
      return { key, target: "Mod", result: "Equal", mod_revision: compare.equals };
    case "value":
      return { key, target: "Value", result: "Equal", value: Buffer.from(compare.equals) };
  }
}

function toEtcdOp(op: Op): IRequestOp {
  switch (op.type) {
    case "put":
      return { request_put: { key: Buffer.from(op.key), value: Buffer.from(op.value), lease: op.lease || 0 } };
    case "delete":
      return { request_delete_range: { key: Buffer.from(op.key) } };
    case "deletePrefix":
      return { request_delete_range: prefixRange(op.prefix) };
  }
}
