// The agent's own credential at netmaster: traded once for the cluster's join token, then kept in the
// agent's state directory (0600) and sent with every call. With it, netmaster lets the agent read its
// host's state and write its host's records only (master/auth/access.ts).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ValidationError } from "../lib/errors.js";
import { writePrivateFile } from "../lib/private-files.js";

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

/** The credential an agent sends (X-Auth-Token), loaded or joined at start and joined again when refused. */
export class AgentCredential {
  private value: string | undefined;

  constructor(private readonly source: CredentialSource) {}

  async load(): Promise<void> {
    this.value = await loadOrJoin(this.source);
  }

  /** After netmaster refused it (the host was removed, or the store is new): joins again if a join token is at hand. */
  async renew(): Promise<boolean> {
    if (this.source.joinTokenFile === undefined) return false;
    this.value = await loadOrJoin(this.source, { fresh: true });
    return true;
  }

  headers(): Record<string, string> {
    return this.value === undefined ? {} : { "x-auth-token": this.value };
  }
}
