// A JSON state file of the agent, read whole at start and replaced atomically on every change (written
// beside it, then renamed), so a crash leaves the old version or the new one, never half of one.

import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { z } from "zod";

/**
 * The file's content checked by `schema`; undefined when it does not exist yet (first start). A file that
 * exists but cannot be read or does not match throws an Error naming it: the agent must not start on state
 * it cannot trust (and must not overwrite it).
 */
export function readStateFile<T extends z.ZodTypeAny>(path: string, schema: T): z.infer<T> | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`Cannot read state file ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`State file ${path} is not JSON: ${(err as Error).message}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`State file ${path} is not valid at ${issue.path.join(".") || "the top"}: ${issue.message}`);
  }
  return parsed.data as z.infer<T>;
}

export function writeStateFile(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(value));
  renameSync(tmp, path);
}
