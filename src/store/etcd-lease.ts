// An etcd lease and its keep-alive loop.
//
// We do not use etcd3's Lease class: it reports a lease lost only after twice its TTL
// without contact, by which time etcd has long deleted its keys and another netmaster may
// lead. Here a keep-alive is sent every ttl/3 on a LeaseKeepAlive stream, and the lease is
// reported lost as soon as ttl has passed since the *sending* of the last acknowledged
// keep-alive: etcd received it no earlier than that, so it cannot have kept the lease
// longer. That errs on the early side, never the late one.

import type { IDuplexStream, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse, LeaseClient } from "etcd3";
import { closeStream } from "./etcd-stream.js";
import type { Lease } from "./types.js";

export interface EtcdLeaseDeps {
  leaseClient: LeaseClient;
  revoke: (leaseId: string) => Promise<void>;
  /** Called when the lease stops being kept alive for good (revoked, lost or store closed). */
  onDone: (lease: EtcdLease) => void;
}

type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;

export class EtcdLease implements Lease {
  readonly id: string;
  readonly ttlSeconds: number;
  readonly #deps: EtcdLeaseDeps;
  #onLost: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stream: KeepAliveStream | undefined;
  #opening = false;
  /** Send times (performance.now()) of keep-alives not yet answered on the current stream. */
  #pending: number[] = [];
  #confirmedAt: number;
  #stopped = false;

  constructor(id: string, ttlSeconds: number, grantedAt: number, deps: EtcdLeaseDeps) {
    this.id = id;
    this.ttlSeconds = ttlSeconds;
    this.#confirmedAt = grantedAt;
    this.#deps = deps;
  }

  keepAlive(onLost: () => void): void {
    if (this.#stopped || this.#onLost !== undefined) return;
    this.#onLost = onLost;
    this.#timer = setInterval(() => this.#tick(), (this.ttlSeconds * 1000) / 3);
    this.#timer.unref();
    this.#tick();
  }

  async revoke(): Promise<void> {
    this.stop();
    await this.#deps.revoke(this.id);
  }

  /** Stops keeping the lease alive, without reporting it lost. Idempotent. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#closeStream();
    this.#deps.onDone(this);
  }

  #tick(): void {
    if (this.#stopped) return;
    if (performance.now() - this.#confirmedAt >= this.ttlSeconds * 1000) {
      this.#lost();
      return;
    }
    // An unanswered keep-alive from the previous tick: the stream's host may be gone.
    // A new stream lets etcd3 pick another endpoint.
    if (this.#pending.length > 0) this.#closeStream();
    if (this.#stream === undefined) {
      if (!this.#opening) this.#openStream();
      return;
    }
    this.#send(this.#stream);
  }

  #openStream(): void {
    this.#opening = true;
    this.#deps.leaseClient.leaseKeepAlive().then(
      (stream) => {
        this.#opening = false;
        if (this.#stopped) {
          closeStream(stream);
          return;
        }
        this.#stream = stream;
        this.#pending = [];
        stream.on("data", (res) => this.#onResponse(stream, res));
        stream.on("error", () => this.#onStreamDown(stream));
        stream.on("end", () => this.#onStreamDown(stream));
        this.#send(stream);
      },
      // The next tick retries; if none succeeds within the TTL, the lease is reported lost.
      () => {
        this.#opening = false;
      },
    );
  }

  #send(stream: KeepAliveStream): void {
    this.#pending.push(performance.now());
    try {
      stream.write({ ID: this.id });
    } catch {
      this.#onStreamDown(stream);
    }
  }

  #onResponse(stream: KeepAliveStream, res: ILeaseKeepAliveResponse): void {
    if (stream !== this.#stream || this.#stopped) return;
    const sentAt = this.#pending.shift();
    // TTL 0: etcd no longer knows the lease (expired or revoked elsewhere).
    if (res.TTL === "0") {
      this.#lost();
      return;
    }
    if (sentAt !== undefined) this.#confirmedAt = Math.max(this.#confirmedAt, sentAt);
  }

  #onStreamDown(stream: KeepAliveStream): void {
    if (stream === this.#stream) this.#closeStream();
  }

  #closeStream(): void {
    const stream = this.#stream;
    this.#stream = undefined;
    this.#pending = [];
    if (stream !== undefined) closeStream(stream);
  }

  #lost(): void {
    const onLost = this.#onLost;
    this.stop();
    onLost?.();
  }
}
