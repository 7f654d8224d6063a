// Distinguished names as LDAP servers write them (RFC 4514), and the one rule by which an authorization's
// principalName names an LDAP group.
//
// Servers spell one DN many ways: "CN=Net Admins,OU=Groups,DC=corp" from Active Directory,
// "cn=net admins, ou=groups, dc=corp" typed by an operator, "cn=a\,b" or "cn=a\2Cb" for one comma. DNs
// are compared after parsing: attribute types and values without case (the caseIgnoreMatch of cn, ou, dc
// and uid), escapes decoded, spaces around separators dropped. Attribute type aliases ("commonName" for
// "cn") and OIDs are not resolved: directories answer with the short names.

/** One attribute=value pair of a relative DN; the value is unescaped. */
export interface Ava {
  type: string;
  value: string;
}

/** A relative DN: usually one pair, several in a multi-valued RDN ("cn=a+uid=b"). */
export type Rdn = Ava[];

const DESCR = /^[A-Za-z][A-Za-z0-9-]*$/;
const NUMERIC_OID = /^\d+(?:\.\d+)+$/;
/** Characters that must be escaped in a value (RFC 4514 section 3), besides the separators "," and "+". */
const UNESCAPED_FORBIDDEN = new Set(['"', ";", "<", ">", "\0"]);
const ESCAPABLE = new Set([" ", '"', "#", "+", ",", ";", "<", "=", ">", "\\"]);
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses a DN string; undefined when it is not one. Lenient where directories and operators are:
 * spaces after "," and "+" and around "=" are allowed, and trailing unescaped spaces of a value dropped.
 * Every value must be non-empty, and every RDN needs a type and "=".
 */
export function parseDn(text: string): Rdn[] | undefined {
  const rdns: Rdn[] = [];
  let rdn: Rdn = [];
  let i = 0;
  for (;;) {
    while (text[i] === " ") i++;
    const eq = text.indexOf("=", i);
    if (eq === -1) return undefined;
    const type = text.slice(i, eq).trimEnd();
    if (!DESCR.test(type) && !NUMERIC_OID.test(type)) return undefined;
    i = eq + 1;
    while (text[i] === " ") i++;
    const value = parseValue(text, i);
    if (value === undefined) return undefined;
    rdn.push({ type, value: value.value });
    i = value.end;
    if (i === text.length) break;
    if (text[i] === ",") {
      rdns.push(rdn);
      rdn = [];
    }
    i++;
  }
  rdns.push(rdn);
  return rdns;
}

/** A value starting at `start`, up to an unescaped "," or "+" or the end; `end` is where it stopped. */
function parseValue(text: string, start: number): { value: string; end: number } | undefined {
  if (text[start] === "#") {
    // A BER-encoded value in hex (RFC 4514 section 2.4): compared as written.
    const m = /^#(?:[0-9A-Fa-f]{2})+/.exec(text.slice(start));
    if (m === null) return undefined;
    const end = start + m[0].length;
    return end === text.length || text[end] === "," || text[end] === "+" ? { value: m[0].toLowerCase(), end } : undefined;
  }
  const bytes: number[] = [];
  /** Bytes at the end of `bytes` that are unescaped spaces, dropped if the value ends there. */
  let trailingSpaces = 0;
  let i = start;
  while (i < text.length && text[i] !== "," && text[i] !== "+") {
    const c = text[i]!;
    if (c === "\\") {
      const next = text[i + 1];
      const hex = text.slice(i + 1, i + 3);
      if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
        bytes.push(parseInt(hex, 16));
        i += 3;
      } else if (next !== undefined && ESCAPABLE.has(next)) {
        bytes.push(next.charCodeAt(0));
        i += 2;
      } else return undefined;
      trailingSpaces = 0;
      continue;
    }
    if (UNESCAPED_FORBIDDEN.has(c)) return undefined;
    const code = text.codePointAt(i)!;
    const encoded = Buffer.from(String.fromCodePoint(code), "utf8");
    bytes.push(...encoded);
    trailingSpaces = c === " " ? trailingSpaces + 1 : 0;
    i += code > 0xffff ? 2 : 1;
  }
  const kept = bytes.slice(0, bytes.length - trailingSpaces);
  if (kept.length === 0) return undefined;
  try {
    return { value: utf8.decode(Uint8Array.from(kept)), end: i };
  } catch {
    return undefined;
  }
}

/** Case-insensitive form of a value as LDAP's caseIgnoreMatch sees it: compatibility-normalized, spaces collapsed. */
function fold(value: string): string {
  return value.normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trim();
}

/** One string per DN: equal for two spellings of the same DN, different otherwise; undefined for a non-DN. */
export function dnKey(text: string): string | undefined {
  const rdns = parseDn(text);
  if (rdns === undefined) return undefined;
  // The pairs of a multi-valued RDN are unordered ("cn=a+uid=b" is "uid=b+cn=a").
  return JSON.stringify(rdns.map((rdn) => rdn.map((ava) => [ava.type.toLowerCase(), fold(ava.value)]).sort()));
}

/**
 * Whether an authorization's principalName names the group `groupDn`. A principalName that is a DN
 * matches that group's DN, spelled any way (see dnKey); any other principalName matches the cn of the
 * group's first RDN, without case. So "Net Admins" matches "CN=Net Admins,OU=Groups,DC=corp" (and a
 * group of that name in any other OU), while "cn=net admins,ou=groups,dc=corp" matches only that one.
 * A principalName that is neither (empty) and a groupDn that is not a DN match nothing.
 */
export function groupMatches(principalName: string, groupDn: string): boolean {
  const group = dnKey(groupDn);
  const name = principalName.trim();
  if (group === undefined || name === "") return false;
  const principal = dnKey(name);
  if (principal !== undefined) return principal === group;
  const cn = parseDn(groupDn)?.[0]?.find((ava) => ava.type.toLowerCase() === "cn");
  return cn !== undefined && fold(cn.value) === fold(name);
}
