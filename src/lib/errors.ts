// The few error classes callers branch on. Each becomes one HTTP status in
// src/master/http.ts; anything else is a bug, logged and answered with a plain 500.

export interface Issue {
  path: string;
  message: string;
}

/** Input that can never be right (bad field, bad key, bad JSON): HTTP 400. */
export class ValidationError extends Error {
  override name = "ValidationError";
  constructor(
    message: string,
    readonly issues: Issue[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** No credential, or one that is malformed, expired or revoked: HTTP 401. */
export class UnauthenticatedError extends Error {
  override name = "UnauthenticatedError";
}

/** A valid credential that does not allow this request: HTTP 403. */
export class ForbiddenError extends Error {
  override name = "ForbiddenError";
}

/** The object, or one it refers to, does not exist: HTTP 404. */
export class NotFoundError extends Error {
  override name = "NotFoundError";
}

/** The request is well formed but clashes with current state (in use, overlap, exhausted): HTTP 409. */
export class ConflictError extends Error {
  override name = "ConflictError";
}

/** A dependency (store, leader, kernel tool) failed or is unreachable: HTTP 503. */
export class UpstreamError extends Error {
  override name = "UpstreamError";
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
