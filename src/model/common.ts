// Shared pieces of the object model: the original's regexes (as Go compiled them) and field
// builders that reproduce what Contiv's generated `Validate<Obj>` and Go's JSON decoding do.
//
// Design note. Contiv decodes a request body into a Go struct (missing fields become "", 0 or
// nil; a value of the wrong JSON type is a decode error naming the field), then runs a
// generated validator that checks the fields one by one, in the ASCII order of their JSON
// names, and returns the first failure as a plain string ("tenantName string too long",
// "tenantName string invalid format", "pktTag Value Out of bound"). Clients match these
// strings, so each builder below takes the field name and produces exactly those messages.
// Objects declare their fields in the same order, so the first issue zod reports is the error
// the original returned.

import { z } from "zod";

// ---------------------------------------------------------------------------------------------
// Regexes. Sources are `contivmodel/*.json` as compiled by modelgen into contivModel.go.
// RE2 and JavaScript agree on these patterns (no backreferences, no lookaround; `$` without the
// m flag matches only at the end of the text in both). No `u` flag: the originals escape ':'
// and '-' in ways that flag rejects.

/** One IPv4 octet, 0-255, no leading zeros. */
export const OCT = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
/** A dotted-quad IPv4 address. */
export const IPV4 = `(${OCT}(\\.${OCT}){3})`;
/** IPv4 prefix length as the original allows it: 1-31 (no /0, no /32). */
const PREFIX_V4 = "(3[0-1]|2[0-9]|1[0-9]|[1-9])";
/** DNS-label style name: labels of letters, digits and inner '-', joined by '.'. */
const NAME_BODY =
  "(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\\-]*[a-zA-Z0-9])\\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\\-]*[A-Za-z0-9])";
const HEX = "([0-9]|[a-f]|[A-F])";
/** The original's IPv6 address pattern (full 8-group form, or a '::' form). */
const IPV6 = `((${HEX}{1,4})((:${HEX}{1,4}){7}))|(((${HEX}{1,4}:){0,6}|:)((:${HEX}{1,4}){0,6}|:))`;
/**
 * IPv6 prefix length. Deviation from the original: Contiv's `(1[0-2][0-7]|[1-9][0-9]|[1-9])`
 * rejects /108, /109, /118, /119 and /128 (a regex bug, reference §7.2 item 9). We accept every
 * length from /1 to /128.
 */
const PREFIX_V6 = "(12[0-8]|1[01][0-9]|[1-9][0-9]|[1-9])";

/** "NAME": tenant, network, group, policy, rule and profile names. Required (empty fails). */
export const NAME = new RegExp(`^${NAME_BODY}$`);
/** "NAME?" as the original writes it: the last label is optional, so "" (and "a.") match. */
export const NAME_OPT = new RegExp(
  "^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\\-]*[a-zA-Z0-9])\\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\\-]*[A-Za-z0-9])?$",
);
/** A NAME or nothing (cfgdTag). */
export const NAME_OR_EMPTY = new RegExp(`^(${NAME_BODY})?$`);
export const IPV4_OR_EMPTY = new RegExp(`^${IPV4}?$`);
/** Network subnet: `a.b.c.d/len` or the range form `a.b.c.d-e.f.g.h/len`, len 1-31. */
export const IPV4_SUBNET = new RegExp(`^(${IPV4})(-(${IPV4}))?/${PREFIX_V4}$`);
export const IPV6_OR_EMPTY = new RegExp(`^(${IPV6})?$`);
export const IPV6_SUBNET_OR_EMPTY = new RegExp(`^((${IPV6})/${PREFIX_V6})?$`);
/** EPG ipPool: "", one address, or `first-last`. */
export const IP_POOL = new RegExp(`^$|^(${IPV4})(-(${IPV4}))?$`);
/** Rule from/to address: "", an address, a last-octet range `a.b.c.d-e`, with optional /len. */
export const RULE_IP = new RegExp(`^((${IPV4})(-${OCT})?(/${PREFIX_V4})?)?$`);
/** Bgp routerip: a CIDR (optionally with a last-octet range), required. */
export const ROUTER_IP = new RegExp(`^(${IPV4})(-${OCT})?/${PREFIX_V4}$`);
/** Rule protocol: tcp, udp, icmp, "" (any) or up to three digits. */
export const PROTOCOL = /^(tcp|udp|icmp||[0-9]{1,3}?)$/;
/**
 * Netprofile bandwidth, verbatim. `[kmgKMG{1}]` is a character class that also admits '{', '1'
 * and '}' (so "10 1bps" passes); we keep it, as we keep every rule we were not asked to fix.
 */
export const BANDWIDTH =
  /^([1-9][0-9]* (([kmgKMG{1}]bps)|[kmgKMG{1}]|(kb|Kb|Gb|gb|Mb|mb)))?$|^([1-9][0-9]*(((k|m|g|K|G|M)bps)|(k|m|g|K|M|G)|(kb|Kb|Gb|gb|Mb|mb)))?$/;
export const PVT_SUBNET = new RegExp(`^${IPV4}/16$`);
export const VLAN_RANGE = /^([0-9]{1,4}?-[0-9]{1,4}?)$/;
export const VXLAN_RANGE = /^([0-9]{1,8}?-[0-9]{1,8}?)$/;
const NODE = "topology/pod-[0-9]{1,4}/node-[0-9]{1,4}";
const PATH = "topology/pod-[0-9]{1,4}/paths-[0-9]{1,4}/pathep-\\[eth[0-9]{1,2}/[0-9]{1,2}\\]";
export const NODE_BINDINGS = new RegExp(`^$|^(${NODE}){1}(,${NODE})*$`);
export const PATH_BINDINGS = new RegExp(`^$|^(${PATH}){1}(,${PATH})*$`);

// ---------------------------------------------------------------------------------------------
// Go JSON decoding errors.

/** How Go's encoding/json names the kind of a JSON value in an UnmarshalTypeError. */
export function jsonKind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  switch (typeof value) {
    case "string":
      return "string";
    case "boolean":
      return "bool";
    case "number":
      // Go quotes the literal when a number does not fit the target ("number 1.5").
      return Number.isSafeInteger(value) ? "number" : `number ${String(value)}`;
    default:
      return "object";
  }
}

/** Go's text for a value of the wrong JSON type in a struct field. */
export function typeMessage(struct: string, field: string, goType: string, value: unknown): string {
  return `json: cannot unmarshal ${jsonKind(value)} into Go struct field ${struct}.${field} of type ${goType}`;
}

/** Go's text for a body that is not a JSON object. */
export function bodyTypeMessage(struct: string, value: unknown): string {
  return `json: cannot unmarshal ${jsonKind(value)} into Go value of type contivModel.${struct}`;
}

// ---------------------------------------------------------------------------------------------
// Field builders. Each missing field takes Go's zero value *before* the checks run (`prefault`),
// so a required field that is absent fails its regex with the original's message.

export interface StringRules {
  /** Maximum length in bytes (Go's len() counts UTF-8 bytes). */
  max?: number;
  pattern?: RegExp;
}

function baseString(struct: string, field: string, max: number | undefined) {
  const s = z.string({ error: (iss) => typeMessage(struct, field, "string", iss.input) });
  return max === undefined
    ? s
    : s.refine((v) => Buffer.byteLength(v, "utf8") <= max, `${field} string too long`);
}

/** A string field: length then format, as the generated validator checks them. */
export function goString(struct: string, field: string, rules: StringRules = {}) {
  let s = baseString(struct, field, rules.max);
  if (rules.pattern) s = s.regex(rules.pattern, `${field} string invalid format`);
  return s.prefault("");
}

/**
 * A string field whose regex is a closed set, typed as a literal union. `fallback` replaces ""
 * before the check (network nwType: "" → "data").
 */
export function goEnum<const V extends readonly [string, ...string[]]>(
  struct: string,
  field: string,
  values: V,
  rules: { max?: number; fallback?: V[number]; message?: string } = {},
) {
  const fallback = rules.fallback;
  const s = baseString(struct, field, rules.max).overwrite((v) =>
    v === "" && fallback !== undefined ? fallback : v,
  );
  const message = rules.message ?? `${field} string invalid format`;
  return s.pipe(z.enum(values, { error: message })).prefault("");
}

export interface IntRules {
  /** Inclusive upper bound, as in the original. */
  max: number;
  /** Inclusive lower bound; 0 unless given (the original forgot it, see the note below). */
  min?: number;
  /** Replaces 0 before the range check (rule priority: 0 → 1). */
  zeroAs?: number;
}

/**
 * An integer field. Deviation from the original: its generator emitted no check for `min: 0`,
 * so negative DSCP, burst, port and pktTag were accepted (reference §1.7). We reject them with
 * the same "Value Out of bound" text.
 */
export function goInt(struct: string, field: string, rules: IntRules) {
  const { max, min = 0, zeroAs } = rules;
  const message = `${field} Value Out of bound`;
  return z
    .int({ error: (iss) => typeMessage(struct, field, "int", iss.input) })
    .overwrite((v) => (v === 0 && zeroAs !== undefined ? zeroAs : v))
    .min(min, message)
    .max(max, message)
    .prefault(0);
}

/** A `[]string` field with no rules of its own (element types are still checked). */
export function goStrings(struct: string, field: string) {
  return z
    .array(z.string({ error: (iss) => typeMessage(struct, field, "string", iss.input) }), {
      error: (iss) => typeMessage(struct, field, "[]string", iss.input),
    })
    .prefault([]);
}

/**
 * For refinements that compare fields with each other: they run only once every field passed its own
 * rules, so the first error stays the one the original reported, and they may rely on each format.
 */
export const ONCE_FIELDS_ARE_VALID = { when: (payload: { issues: readonly unknown[] }) => payload.issues.length === 0 };

/** Every object carries the key it is stored under (set from the URL by parseObject). */
export const objectKey = z.string().prefault("");
