// The one error class of the CNI module: a CNI error code with its message, thrown by the parsers in
// spec.ts and turned into a CniErrorBody in one place (toCniErrorBody).

import { CniErrorCode, type CniErrorBody } from "./wire.js";

/** A failure with a CNI error code. `message` is the spec's `msg`; `details` is optional context. */
export class CniError extends Error {
  override name = "CniError";
  constructor(
    readonly code: number,
    message: string,
    readonly details?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toBody(): CniErrorBody {
    return this.details === undefined || this.details === ""
      ? { code: this.code, msg: this.message }
      : { code: this.code, msg: this.message, details: this.details };
  }
}

/** Make a CniError (codes: CniErrorCode; 100+ are ours). */
export function cniError(code: number, msg: string, details?: string): CniError {
  return new CniError(code, msg, details);
}

/**
 * The error body for anything a CNI handler threw: a CniError keeps its code; anything else is a bug
 * or an unclassified failure and becomes AgentInternal with its message.
 */
export function toCniErrorBody(err: unknown): CniErrorBody {
  if (err instanceof CniError) return err.toBody();
  const msg = err instanceof Error ? err.message : String(err);
  return { code: CniErrorCode.AgentInternal, msg: `netplugin agent failed: ${msg}` };
}

/** One problem found while validating, with the JSON path it concerns ("runtimeConfig.ips[1]"). */
export interface CniIssue {
  path: string;
  message: string;
  code: number;
}

/**
 * Throw one CniError for a list of issues: the first issue gives the code and the message, every
 * issue goes into details as "path: message".
 */
export function throwIssues(prefix: string, issues: readonly CniIssue[]): never {
  const first = issues[0];
  if (first === undefined) throw new CniError(CniErrorCode.AgentInternal, `${prefix}: no issue given`);
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
  const details = issues.length > 1 ? issues.map((i) => `${i.path}: ${i.message}`).join("; ") : undefined;
  throw new CniError(first.code, `${prefix}: ${first.path}: ${first.message}${more}`, details);
}
