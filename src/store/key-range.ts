// Key ranges shared by both backends.
//
// etcd orders keys by their UTF-8 bytes, and so does SQLite's BINARY collation on TEXT
// (memcmp on the UTF-8 encoding). "All keys under a prefix" is therefore the half-open
// range [prefix, prefixEnd): a range query on the primary key, never a scan.

import { ValidationError } from "../lib/errors.js";
import type { Compare, Op } from "./types.js";

const MAX_CODE_POINT = 0x10ffff;
const SURROGATE_FIRST = 0xd800;
const SURROGATE_LAST = 0xdfff;

/**
 * The smallest string greater than every string starting with prefix, comparing by code
 * point (which is UTF-8 byte order); undefined when there is none (empty prefix, or a
 * prefix made only of U+10FFFF): the range is then unbounded above.
 */
export function prefixEnd(prefix: string): string | undefined {
  const codePoints = Array.from(prefix);
  while (codePoints.length > 0) {
    const last = codePoints.pop() as string;
    let next = (last.codePointAt(0) as number) + 1;
    if (next > MAX_CODE_POINT) continue;
    // Surrogates never appear in well-formed strings; the next real code point follows them.
    if (next >= SURROGATE_FIRST && next <= SURROGATE_LAST) next = SURROGATE_LAST + 1;
    return codePoints.join("") + String.fromCodePoint(next);
  }
  return undefined;
}

/** etcd's range_end for a prefix: the prefix bytes with the last non-0xff byte incremented; "\0" means "to the end". */
export function prefixEndBytes(prefix: string): Buffer {
  const bytes = Buffer.from(prefix, "utf8");
  for (let i = bytes.length - 1; i >= 0; i--) {
    const byte = bytes[i] as number;
    if (byte < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = byte + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

/** etcd refuses an empty key ("key is not provided"); both backends refuse it the same way. */
export function assertKey(key: string, action: string): void {
  if (key === "") {
    throw new ValidationError(`Cannot ${action}: key must not be empty`, [{ path: "key", message: "must not be empty" }]);
  }
}

/** Checks every key a transaction names before any I/O. */
export function assertTxnKeys(compares: readonly Compare[], ops: readonly Op[]): void {
  for (const compare of compares) assertKey(compare.key, "run transaction");
  for (const op of ops) assertKey(op.type === "deletePrefix" ? op.prefix : op.key, "run transaction");
  assertDistinctKeys(ops);
}

/**
 * Rejects ops that write one key twice in a transaction. etcd refuses them ("duplicate key
 * given in txn request"); checking here gives both backends the same error before any I/O.
 */
function assertDistinctKeys(ops: readonly Op[]): void {
  const puts = new Set<string>();
  const deletedKeys = new Set<string>();
  const deletedPrefixes: string[] = [];
  const clash = (key: string) =>
    new ValidationError(`Invalid transaction: key "${key}" is written more than once`, [
      { path: "ops", message: `key "${key}" is written more than once` },
    ]);
  for (const op of ops) {
    if (op.type === "put") {
      if (puts.has(op.key)) throw clash(op.key);
      puts.add(op.key);
    } else if (op.type === "delete") {
      deletedKeys.add(op.key);
    } else {
      deletedPrefixes.push(op.prefix);
    }
  }
  for (const key of puts) {
    if (deletedKeys.has(key) || deletedPrefixes.some((prefix) => key.startsWith(prefix))) {
      throw clash(key);
    }
  }
}
