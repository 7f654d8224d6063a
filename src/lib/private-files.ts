// Files only root may read: state directories 0700, keys, secrets and store files 0600. Modes are set when a
// file or directory is made; a directory that exists already keeps its mode (it may be one the operator
// chose, such as /var/lib), and the files in it are protected by their own.

import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Makes `path` and any missing parents 0700; idempotent. */
export function makePrivateDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/**
 * Replaces `path` with `data`, mode 0600, atomically: written beside it under a fresh name, then renamed, so a
 * crash leaves the old file or the new one and the data is never readable by others, even for a moment.
 */
export function writePrivateFile(path: string, data: string | Buffer): void {
  makePrivateDir(dirname(path));
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data, { mode: PRIVATE_FILE_MODE, flag: "wx" });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Creates an empty `path` with mode 0600 unless it exists (SQLite then makes its journals with the same mode). */
export function touchPrivateFile(path: string): void {
  makePrivateDir(dirname(path));
  closeSync(openSync(path, "a", PRIVATE_FILE_MODE));
}
