// Stored allocator state that cannot be loaded. Not the caller's fault and not
// a conflict: the store holds something we did not write (or a bug wrote it),
// so it is answered like any other unexpected error (HTTP 500) and logged.

export class CorruptStateError extends Error {
  override name = "CorruptStateError";
}

type JsonObject = Record<string, unknown>;

/** Checks that json is a plain object with exactly the given keys. */
export function expectObject(json: unknown, what: string, keys: readonly string[]): JsonObject {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new CorruptStateError(`Cannot load ${what}: expected an object`);
  }
  const obj = json as JsonObject;
  for (const key of keys) {
    if (!(key in obj)) throw new CorruptStateError(`Cannot load ${what}: missing field "${key}"`);
  }
  for (const key of Object.keys(obj)) {
    if (!keys.includes(key)) throw new CorruptStateError(`Cannot load ${what}: unknown field "${key}"`);
  }
  return obj;
}

export function expectString(obj: JsonObject, key: string, what: string): string {
  const value = obj[key];
  if (typeof value !== "string") {
    throw new CorruptStateError(`Cannot load ${what}: field "${key}" must be a string`);
  }
  return value;
}

export function expectStringArray(obj: JsonObject, key: string, what: string): string[] {
  const value = obj[key];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new CorruptStateError(`Cannot load ${what}: field "${key}" must be an array of strings`);
  }
  return value as string[];
}

/** Runs fn, turning any error it throws into a CorruptStateError about what. */
export function loading<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CorruptStateError) throw err;
    const detail = err instanceof Error ? err.message : String(err);
    throw new CorruptStateError(`Cannot load ${what}: ${detail}`, { cause: err });
  }
}
