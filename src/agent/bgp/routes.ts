// Pure decisions about routes: which prefixes to add to or withdraw from gobgpd, and which
// learned routes the host's kernel should hold (read back from `ip -json route`, written with
// `ip -batch`). Everything here is plain data in and out.

import { z } from "zod";

import { UpstreamError } from "../../lib/errors.js";
import type { RibPath } from "./gobgpJson.js";
import { canonicalIp, familyOf, isLinkLocal, prefixFromRouteDst, unmapIpv4, type Family } from "./prefix.js";

export interface Announcement {
  prefix: string;
  nextHop: string;
}

/**
 * Our prefixes with their next hops: IPv4 ones via the router address, IPv6 ones via `nextHop6`.
 * Without an IPv6 next hop the IPv6 prefixes are returned in `skipped`.
 */
export function renderAnnouncements(
  prefixes: string[],
  nextHops: { v4: string; v6: string | undefined },
): { wanted: Announcement[]; skipped: string[] } {
  const wanted: Announcement[] = [];
  const skipped: string[] = [];
  for (const prefix of prefixes) {
    const nextHop = familyOf(prefix.split("/")[0] ?? "") === 4 ? nextHops.v4 : nextHops.v6;
    if (nextHop === undefined) skipped.push(prefix);
    else wanted.push({ prefix, nextHop });
  }
  return { wanted, skipped };
}

/**
 * What to add to and withdraw from gobgpd's RIB so that our own (locally added) paths are exactly
 * `wanted`. Learned paths in `rib` are ignored. A prefix whose next hop changed is added again
 * (gobgpd replaces a local path for the same prefix).
 */
export function diffAnnouncements(wanted: Announcement[], rib: RibPath[]): { add: Announcement[]; withdraw: string[] } {
  const current = new Map<string, Set<string | undefined>>();
  for (const p of rib) {
    if (p.learned) continue;
    const hops = current.get(p.prefix) ?? new Set();
    hops.add(p.nextHop);
    current.set(p.prefix, hops);
  }
  const wantedPrefixes = new Set(wanted.map((a) => a.prefix));
  const add = wanted.filter((a) => {
    const hops = current.get(a.prefix);
    return hops === undefined || hops.size !== 1 || !hops.has(a.nextHop);
  });
  const withdraw = [...current.keys()].filter((prefix) => !wantedPrefixes.has(prefix)).sort();
  return { add, withdraw };
}

/** A route in the host's kernel that we own (marked with our protocol). */
export interface KernelRoute {
  prefix: string;
  /** Gateway; may be IPv4 for an IPv6 prefix only when read back (RFC 5549), never rendered so. */
  via: string;
  /** Only for link-local gateways, which need one. */
  dev?: string;
}

export interface LearnedContext {
  /** Prefixes we announce ourselves: never installed, even if the router reflects them. */
  announced: ReadonlySet<string>;
  /** Our own addresses: a route via ourselves would loop. */
  ownAddresses: ReadonlySet<string>;
  /** The interface that reaches the neighbor; link-local next hops need it. */
  underlayDev: string | undefined;
}

/** The kernel routes for the best learned paths, and the ones that cannot be installed (with why). */
export function renderLearnedRoutes(
  rib: RibPath[],
  ctx: LearnedContext,
): { routes: KernelRoute[]; skipped: { prefix: string; reason: string }[] } {
  const routes = new Map<string, KernelRoute>();
  const skipped: { prefix: string; reason: string }[] = [];
  for (const p of rib) {
    if (!p.learned || !p.best || routes.has(p.prefix) || ctx.announced.has(p.prefix)) continue;
    const family = familyOf(p.prefix.split("/")[0] ?? "");
    let via = p.nextHop;
    if (via === undefined) {
      skipped.push({ prefix: p.prefix, reason: "no next hop" });
      continue;
    }
    if (family === 6 && familyOf(via) === 6) {
      const mapped = unmapIpv4(via);
      if (mapped !== null) {
        skipped.push({ prefix: p.prefix, reason: `IPv4-mapped next hop "${via}" (the kernel cannot route IPv6 via IPv4)` });
        continue;
      }
    }
    if (familyOf(via) !== family) {
      skipped.push({ prefix: p.prefix, reason: `next hop "${via}" is of the other family` });
      continue;
    }
    via = canonicalIp(via) ?? via;
    if (ctx.ownAddresses.has(via)) {
      skipped.push({ prefix: p.prefix, reason: `next hop "${via}" is this host` });
      continue;
    }
    if (isLinkLocal(via)) {
      if (ctx.underlayDev === undefined) {
        skipped.push({ prefix: p.prefix, reason: `link-local next hop "${via}" and no interface towards the neighbor` });
        continue;
      }
      routes.set(p.prefix, { prefix: p.prefix, via, dev: ctx.underlayDev });
    } else routes.set(p.prefix, { prefix: p.prefix, via });
  }
  return { routes: [...routes.values()].sort(byPrefix), skipped };
}

const IpRoute = z.object({
  dst: z.string(),
  gateway: z.string().optional(),
  via: z.object({ host: z.string() }).optional(),
  dev: z.string().optional(),
});
const IpRoutes = z.array(IpRoute);

/** Parses `ip -json -4|-6 route show proto P` (one family). */
export function parseKernelRoutes(text: string, family: Family): KernelRoute[] {
  let raw: unknown;
  try {
    raw = text.trim() === "" ? [] : JSON.parse(text);
  } catch (err) {
    throw new UpstreamError(`Cannot read "ip -json route": not JSON: ${text.slice(0, 200)}`, { cause: err });
  }
  const parsed = IpRoutes.safeParse(raw);
  if (!parsed.success) {
    throw new UpstreamError(`Cannot read "ip -json route": ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  const routes: KernelRoute[] = [];
  for (const r of parsed.data) {
    const prefix = prefixFromRouteDst(r.dst, family);
    if (prefix === null) continue;
    const via = canonicalIp(r.gateway ?? r.via?.host ?? "") ?? "";
    routes.push({ prefix, via, ...(r.dev === undefined ? {} : { dev: r.dev }) });
  }
  return routes.sort(byPrefix);
}

/** Routes to replace (new or changed) and to remove so that the kernel holds exactly `wanted`. */
export function diffKernelRoutes(wanted: KernelRoute[], current: KernelRoute[]): { replace: KernelRoute[]; remove: KernelRoute[] } {
  const have = new Map(current.map((r) => [r.prefix, r]));
  const want = new Set(wanted.map((r) => r.prefix));
  const replace = wanted.filter((w) => {
    const c = have.get(w.prefix);
    return c === undefined || c.via !== w.via || (w.dev !== undefined && c.dev !== w.dev);
  });
  const remove = current.filter((c) => !want.has(c.prefix));
  return { replace, remove };
}

/** `ip -batch` text for a route plan; every line carries our protocol so we never touch others' routes. */
export function renderRouteBatch(plan: { replace: KernelRoute[]; remove: KernelRoute[] }, protocol: string): string {
  const lines = [
    ...plan.remove.map((r) => `route del ${r.prefix} proto ${protocol}`),
    ...plan.replace.map((r) => `route replace ${r.prefix} via ${r.via}${r.dev === undefined ? "" : ` dev ${r.dev}`} proto ${protocol}`),
  ];
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

/** Contiv's inspect spelling of a learned route: "prefix via next-hop". */
export function describeRoute(r: { prefix: string; nextHop: string | undefined }): string {
  return r.nextHop === undefined ? r.prefix : `${r.prefix} via ${r.nextHop}`;
}

function byPrefix(a: { prefix: string }, b: { prefix: string }): number {
  return a.prefix.localeCompare(b.prefix);
}
