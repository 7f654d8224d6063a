// Closing an etcd3 gRPC stream we no longer need.

import type { IRequestStream } from "etcd3";

/**
 * Half-closes, then cancels, a stream. The order matters: etcd3 reports an error on a still
 * writable stream to its circuit breaker as a host failure, and a bare cancel() errors with
 * CANCELLED; three of those in a row (a resign closes a watch and a keep-alive) would make
 * etcd3 refuse every call to a healthy etcd for 5 s. After end() the stream is no longer
 * writable, so the CANCELLED that follows is ignored. Idempotent.
 */
export function closeStream(stream: IRequestStream<unknown>): void {
  try {
    stream.end();
    stream.cancel();
  } catch {
    // Already closed.
  }
}
