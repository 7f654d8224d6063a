// The agent's own credential at netmaster: traded once for the cluster's join token, then kept in the
// agent's state directory (0600) and sent with every call. With it, netmaster lets the agent read its
// host's state and write its host's records only (master/auth/access.ts).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { UpstreamError, ValidationError } from "../lib/errors.js";
import { writePrivateFile } from "../lib/private-files.js";
import { retryUntilDone } from "./master-client.js";

export const CREDENTIAL_FILE = "credential";

export interface CredentialSource {
  stateDir: string;
  host: string;
  /** The cluster's join token (netmaster writes it to <its state dir>/join-token); needed once. */
  joinTokenFile?: string;
  /** Asks netmaster for this host's credential (POST /api/v1/agent/join/). */
  join(host: string, joinToken: string): Promise<string>;
}

function readTrimmed(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** The kept credential, else a new one for the join token; `fresh` skips a kept one netmaster refused. */
export async function loadOrJoin(source: CredentialSource, options: { fresh?: boolean } = {}): Promise<string> {
  const path = join(source.stateDir, CREDENTIAL_FILE);
  const kept = options.fresh ? undefined : readTrimmed(path);
  if (kept) return kept;
  if (source.joinTokenFile === undefined) {
    throw new ValidationError(`No credential in ${path}: start the agent once with --join-token-file (netmaster writes the token to <its --state-dir>/join-token)`);
  }
  const joinToken = readTrimmed(source.joinTokenFile);
  if (!joinToken) throw new ValidationError(`Join token file ${source.joinTokenFile} is missing or empty`);
  const credential = await source.join(source.host, joinToken);
  writePrivateFile(path, `${credential}\n`);
  return credential;
}

const AUTH_HEADER = "x-auth-token";

/** The credential an agent sends (X-Auth-Token), loaded or joined at start and joined again when refused. */
export class AgentCredential {
  private value: string | undefined;
  /** The join under way: every call refused meanwhile waits for it, as a second join would void the first's credential. */
  private joining: Promise<void> | undefined;

  constructor(private readonly source: CredentialSource) {}

  /**
   * At start: the kept credential (no netmaster needed), else the first join. A join netmaster refuses (a
   * bad join token) throws, stopping the agent; one it could not answer (not up yet, store down) is tried
   * again in the background until `signal` aborts, so the agent starts anyway and its calls wait for it.
   */
  async load(o: { signal: AbortSignal; onRetry: (err: Error) => void }): Promise<void> {
    try {
      await this.join({ fresh: false });
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      o.onRetry(err);
      // Refused is "no credential": the retries end as soon as a join, this one's or a refused call's, made one.
      void retryUntilDone(() => this.renew({}), o.onRetry, o.signal);
    }
  }

  /**
   * After netmaster refused `refused` (what headers() gave that call): joins again if a join token is at
   * hand. A call refused while a join is under way waits for that one; a call refused for a credential
   * renewed since only needs to try the new one.
   */
  async renew(refused: Record<string, string>): Promise<boolean> {
    if (this.joining === undefined && refused[AUTH_HEADER] !== this.value) return true;
    if (this.source.joinTokenFile === undefined) return false;
    await this.join({ fresh: true });
    return true;
  }

  headers(): Record<string, string> {
    return this.value === undefined ? {} : { [AUTH_HEADER]: this.value };
  }

  private join(options: { fresh: boolean }): Promise<void> {
    this.joining ??= loadOrJoin(this.source, options)
      .then((value) => void (this.value = value))
      .finally(() => (this.joining = undefined));
    return this.joining;
  }
}
