// One Store watch on etcd: a Watch stream of its own, resumed after a disconnect.
//
// We drive the raw gRPC stream rather than etcd3's Watcher because the latter drops the
// compact_revision of a cancelled watch (we need it for CompactedError) and retries forever
// (we want a transport failure reported after a bounded time, so the caller can re-list).
// After a disconnect the stream is re-created from the revision after the last event
// delivered, so nothing is lost or repeated; etcd3 picks a healthy endpoint for it.

import type { IDuplexStream, IEvent, IWatchRequest, IWatchResponse, WatchClient } from "etcd3";
import { UpstreamError, errorMessage } from "../lib/errors.js";
import { closeStream } from "./etcd-stream.js";
import { prefixEndBytes } from "./key-range.js";
import { CompactedError, type WatchEvent, type Watcher } from "./types.js";

export interface EtcdWatchOptions {
  watchClient: WatchClient;
  endpoints: readonly string[];
  prefix: string;
  onEvent: (event: WatchEvent) => void;
  onError: (err: Error) => void;
  /** Undefined: from the revision after the one current when the watch is created. */
  fromRevision: number | undefined;
  /** How long reconnecting may fail before onError gets an UpstreamError. */
  reconnectTimeoutMs: number;
  /** Called once the watch has ended (closed or failed). */
  onDone: (watch: EtcdWatch) => void;
}

type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 1000;

export class EtcdWatch implements Watcher {
  readonly #opts: EtcdWatchOptions;
  #stream: WatchStream | undefined;
  #nextRevision: number | undefined;
  #downSince: number | undefined;
  #retryMs = FIRST_RETRY_MS;
  #retryTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: EtcdWatchOptions) {
    this.#opts = options;
    this.#nextRevision = options.fromRevision;
    this.#connect();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#dropStream();
    this.#opts.onDone(this);
  }

  #connect(): void {
    if (this.#closed) return;
    this.#opts.watchClient.watch().then(
      (stream) => {
        if (this.#closed) {
          closeStream(stream);
          return;
        }
        this.#stream = stream;
        stream.on("data", (res) => this.#onResponse(stream, res));
        stream.on("error", (err) => this.#onStreamDown(stream, err));
        stream.on("end", () => this.#onStreamDown(stream, new Error("watch stream ended")));
        const prefix = this.#opts.prefix;
        stream.write({
          create_request: {
            // etcd refuses an empty key; "\0" with range end "\0" means every key.
            key: prefix === "" ? Buffer.from([0]) : Buffer.from(prefix),
            range_end: prefixEndBytes(prefix),
            start_revision: this.#nextRevision ?? 0,
          },
        });
      },
      (err: unknown) => this.#onStreamDown(undefined, err),
    );
  }

  #onResponse(stream: WatchStream, res: IWatchResponse): void {
    if (stream !== this.#stream || this.#closed) return;
    if (res.created) {
      this.#downSince = undefined;
      this.#retryMs = FIRST_RETRY_MS;
      // Without a start revision etcd watches from the revision after its current one.
      this.#nextRevision ??= Number(res.header.revision) + 1;
    }
    if (res.compact_revision !== "0" && res.compact_revision !== "") {
      const requested = this.#nextRevision ?? 0;
      this.#fail(new CompactedError(requested, Number(res.compact_revision)));
      return;
    }
    if (res.canceled) {
      this.#fail(new UpstreamError(`Cannot watch "${this.#opts.prefix}": etcd cancelled the watch: ${res.cancel_reason}`));
      return;
    }
    for (const event of res.events) {
      if (this.#closed) return;
      const delivered = toWatchEvent(event);
      this.#nextRevision = delivered.revision + 1;
      try {
        this.#opts.onEvent(delivered);
      } catch (err) {
        // A throwing callback is a caller bug; surface it without breaking the stream.
        setImmediate(() => {
          throw err;
        });
      }
    }
  }

  #onStreamDown(stream: WatchStream | undefined, err: unknown): void {
    if (this.#closed || (stream !== undefined && stream !== this.#stream)) return;
    this.#dropStream();
    const now = performance.now();
    this.#downSince ??= now;
    if (now - this.#downSince >= this.#opts.reconnectTimeoutMs) {
      const where = this.#opts.endpoints.join(",");
      this.#fail(
        new UpstreamError(`Cannot reach etcd at ${where}: watch on "${this.#opts.prefix}" lost: ${errorMessage(err)}`, {
          cause: err,
        }),
      );
      return;
    }
    this.#retryTimer = setTimeout(() => this.#connect(), this.#retryMs);
    this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS);
  }

  #dropStream(): void {
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream !== undefined) closeStream(stream);
  }

  #fail(err: Error): void {
    if (this.#closed) return;
    this.close();
    this.#opts.onError(err);
  }
}

function toWatchEvent(event: IEvent): WatchEvent {
  const isPut = event.type === "Put";
  return {
    type: isPut ? "put" : "delete",
    key: event.kv.key.toString("utf8"),
    value: isPut ? event.kv.value.toString("utf8") : "",
    revision: Number(event.kv.mod_revision),
  };
}
