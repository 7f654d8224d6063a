// Table runner shared by the model's tests (not part of the public API).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValidationError } from "../../lib/errors.js";
import { keyOf, type ObjectKind, parseObject } from "../kinds.js";

export interface Case {
  name: string;
  /** Fields to set on top of the base body. */
  set?: Record<string, unknown>;
  /** Fields to remove from the base body. */
  unset?: string[];
  /** URL key; defaults to the body's key fields joined with ":". */
  key?: string;
  /** Expected ValidationError message; absent means the body must be accepted. */
  error?: string;
  /** Expected issue paths (all of them, in order). */
  paths?: string[];
  /** Expected values in the parsed object. */
  want?: Record<string, unknown>;
}

export function expectInvalid(
  kind: ObjectKind<unknown>,
  key: string,
  body: unknown,
  message: string,
  paths?: string[],
): void {
  assert.throws(
    () => parseObject(kind, key, body),
    (err: unknown) => {
      assert.ok(err instanceof ValidationError, `expected ValidationError, got ${String(err)}`);
      assert.equal(err.message, message);
      assert.equal(err.issues[0]?.message, message);
      if (paths) assert.deepEqual(err.issues.map((i) => i.path), paths);
      return true;
    },
  );
}

export function runCases(kind: ObjectKind<unknown>, base: Record<string, unknown>, cases: Case[]): void {
  describe(`${kind.type} field rules`, () => {
    for (const c of cases) {
      it(c.name, () => {
        const body: Record<string, unknown> = { ...base, ...c.set };
        for (const f of c.unset ?? []) delete body[f];
        const key = c.key ?? keyOf(kind, body);
        if (c.error !== undefined) {
          expectInvalid(kind, key, body, c.error, c.paths);
          return;
        }
        const obj = parseObject(kind, key, body) as Record<string, unknown>;
        assert.equal(obj.key, key);
        for (const [f, v] of Object.entries(c.want ?? {})) assert.deepEqual(obj[f], v, f);
      });
    }
  });
}

export interface NameRules {
  /** Go struct name, for the type error text. */
  struct: string;
  max: number;
  /** NAME: required DNS-label name; NAME_OPT: may be empty (and "a." passes); EMPTY_OR_NAME: "" or NAME; none: length only. */
  pattern: "NAME" | "NAME_OPT" | "EMPTY_OR_NAME" | "none";
}

/** The standard cases for a name-like string field: lengths, format, empty, wrong type. */
export function nameCases(field: string, rules: NameRules): Case[] {
  const { struct, max, pattern } = rules;
  const long = `${field} string too long`;
  const bad = `${field} string invalid format`;
  const cases: Case[] = [
    { name: `${field}: dotted name with dashes`, set: { [field]: "a-1.B2" }, want: { [field]: "a-1.B2" } },
    { name: `${field}: ${max} bytes`, set: { [field]: "a".repeat(max) } },
    { name: `${field}: ${max + 1} bytes`, set: { [field]: "a".repeat(max + 1) }, error: long },
    {
      name: `${field}: wrong JSON type`,
      set: { [field]: 7 },
      error: `json: cannot unmarshal number into Go struct field ${struct}.${field} of type string`,
    },
  ];
  if (pattern === "none") {
    cases.push(
      { name: `${field}: any characters`, set: { [field]: "a_b c" } },
      { name: `${field}: bytes, not characters`, set: { [field]: "é".repeat(max / 2 + 1) }, error: long },
    );
    return cases;
  }
  for (const v of ["a_b", "-ab", "ab-", "a..b", ".ab", "a b", "a@b"]) {
    cases.push({ name: `${field}: rejects ${JSON.stringify(v)}`, set: { [field]: v }, error: bad });
  }
  if (pattern === "NAME") {
    cases.push({ name: `${field}: required`, set: { [field]: "" }, error: bad });
    cases.push({ name: `${field}: missing`, unset: [field], error: bad });
  } else {
    cases.push({ name: `${field}: may be empty`, set: { [field]: "" }, want: { [field]: "" } });
    cases.push({ name: `${field}: may be missing`, unset: [field], want: { [field]: "" } });
  }
  if (pattern === "NAME_OPT") {
    cases.push({ name: `${field}: trailing dot (original's regex)`, set: { [field]: "a." } });
  }
  return cases;
}

export function intCases(struct: string, field: string, min: number, max: number): Case[] {
  const out = `${field} Value Out of bound`;
  return [
    { name: `${field}: ${min}`, set: { [field]: min }, want: { [field]: min } },
    { name: `${field}: ${max}`, set: { [field]: max }, want: { [field]: max } },
    { name: `${field}: ${max + 1}`, set: { [field]: max + 1 }, error: out },
    { name: `${field}: negative`, set: { [field]: -1 }, error: out },
    {
      name: `${field}: string`,
      set: { [field]: "5" },
      error: `json: cannot unmarshal string into Go struct field ${struct}.${field} of type int`,
    },
    {
      name: `${field}: fraction`,
      set: { [field]: 1.5 },
      error: `json: cannot unmarshal number 1.5 into Go struct field ${struct}.${field} of type int`,
    },
  ];
}

export function formatCases(field: string, good: string[], bad: string[]): Case[] {
  return [
    ...good.map((v) => ({ name: `${field}: accepts ${JSON.stringify(v)}`, set: { [field]: v }, want: { [field]: v } })),
    ...bad.map((v) => ({
      name: `${field}: rejects ${JSON.stringify(v)}`,
      set: { [field]: v },
      error: `${field} string invalid format`,
    })),
  ];
}
