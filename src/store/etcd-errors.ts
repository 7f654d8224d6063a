// Turns etcd3 client errors into the few classes callers branch on (src/lib/errors.ts).
//
// etcd3 casts gRPC failures into its own classes; what matters to us is whether etcd could
// not be reached (unavailable, deadline, open circuit breaker, closed client) or answered
// and refused. Both are UpstreamError, with different wording; a missing lease is NotFoundError.

import {
  ClientClosedError,
  EtcdLeaseInvalidError,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCGenericError,
  GRPCUnavailableError,
  GRPCUnknownError,
  isRecoverableError,
} from "etcd3";
import { ConflictError, NotFoundError, UpstreamError, ValidationError, errorMessage } from "../lib/errors.js";

export function isUnreachable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return (
    isRecoverableError(err) ||
    err instanceof GRPCUnavailableError ||
    err instanceof GRPCDeadlineExceededError ||
    err instanceof GRPCCancelledError ||
    err instanceof GRPCUnknownError ||
    err instanceof ClientClosedError ||
    // cockatiel's BrokenCircuitError: etcd3 stopped trying a host after repeated failures.
    (err as { isBrokenCircuitError?: unknown }).isBrokenCircuitError === true ||
    err.constructor === GRPCGenericError
  );
}

/** Wraps err for the caller; action says what was attempted, e.g. `put "/a"`. */
export function toStoreError(err: unknown, action: string, endpoints: readonly string[]): Error {
  if (err instanceof ValidationError || err instanceof NotFoundError || err instanceof ConflictError) return err;
  if (err instanceof UpstreamError) return err;
  if (err instanceof EtcdLeaseInvalidError) {
    return new NotFoundError(`Cannot ${action}: lease not found in etcd`, { cause: err });
  }
  const where = endpoints.join(",");
  if (isUnreachable(err)) {
    return new UpstreamError(`Cannot reach etcd at ${where}: ${action} failed: ${errorMessage(err)}`, { cause: err });
  }
  return new UpstreamError(`Cannot ${action}: etcd at ${where} refused: ${errorMessage(err)}`, { cause: err });
}
