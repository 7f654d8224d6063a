// Schemas for what ip, tc, nft and sysctl print, and parsers that turn it into the
// observed-state objects. Output that does not fit the schema is a ProcessError naming
// the command, never a half-read state.

import { z } from "zod";

import { canonicalIp, canonicalMac, familyOf } from "./addr.js";
import { unexpectedOutput } from "./tools.js";
import type { DefaultRoute, ObservedFdb, ObservedNeighbour, ObservedQdisc, ObservedRedirect, ObservedRoute, ServiceBackend } from "./state.js";

const AddrInfo = z.object({
  family: z.string(),
  local: z.string(),
  prefixlen: z.number(),
  scope: z.string().optional(),
  noprefixroute: z.boolean().optional(),
});

/** One entry of `ip -json -d addr show` (also fits `ip -json -d link show`). */
export const IpLink = z.object({
  ifindex: z.number(),
  link_index: z.number().optional(),
  ifname: z.string(),
  flags: z.array(z.string()).default([]),
  mtu: z.number(),
  master: z.string().optional(),
  address: z.string().optional(),
  /** `ip link set … alias`: what a moved host device carries (attach.ts). */
  ifalias: z.string().optional(),
  linkinfo: z
    .object({
      info_kind: z.string().optional(),
      info_data: z
        .object({
          // bridge
          mcast_snooping: z.number().optional(),
          mcast_querier: z.number().optional(),
          nf_call_iptables: z.number().optional(),
          nf_call_ip6tables: z.number().optional(),
          // vxlan
          id: z.number().optional(),
          local: z.string().optional(),
          local6: z.string().optional(),
          port: z.number().optional(),
          learning: z.boolean().optional(),
          proxy: z.boolean().optional(),
          ttl: z.number().optional(),
        })
        .optional(),
      info_slave_kind: z.string().optional(),
      info_slave_data: z
        .object({ learning: z.boolean().optional(), multicast_router: z.number().optional(), hairpin: z.boolean().optional() })
        .optional(),
    })
    .optional(),
  addr_info: z.array(AddrInfo).default([]),
});
export type IpLink = z.infer<typeof IpLink>;

/** One entry of `ip -json route show table all`. */
export const IpRoute = z.object({
  dst: z.string(),
  gateway: z.string().optional(),
  dev: z.string().optional(),
  table: z.string().optional(),
  type: z.string().optional(),
  metric: z.number().optional(),
  /** Absent for "boot" (what `ip route add` sets unless told otherwise). */
  protocol: z.string().optional(),
});
export type IpRoute = z.infer<typeof IpRoute>;

const TcQdisc = z.object({
  kind: z.string(),
  handle: z.string(),
  dev: z.string(),
  root: z.boolean().optional(),
  options: z.object({ rate: z.number().optional(), burst: z.number().optional() }).optional(),
});

const TcFilter = z.object({
  kind: z.string().optional(),
  options: z
    .object({
      actions: z.array(z.object({ kind: z.string(), to_dev: z.string().optional() })).optional(),
    })
    .optional(),
});

const NftTables = z.object({
  nftables: z.array(z.object({ table: z.object({ family: z.string(), name: z.string() }).optional() })),
});

const NetnsList = z.array(z.object({ name: z.string() }));

/** `nft -j list table …`: each object is one of table, set, map, chain, rule. */
const NftObjects = z.object({ nftables: z.array(z.record(z.string(), z.unknown())) });

/** An element of the services table's maps services4/6: `VIP . PROTO . PORT : goto CHAIN`. */
const ServiceElement = z.tuple([
  z.object({ concat: z.tuple([z.string(), z.enum(["tcp", "udp"]), z.number()]) }),
  z.object({ goto: z.object({ target: z.string() }) }),
]);
const NftMap = z.object({ map: z.object({ elem: z.array(z.unknown()) }) });
const NftRule = z.object({ rule: z.object({ chain: z.string(), expr: z.array(z.unknown()) }) });

/** `dnat ip to numgen random mod N map { 0 : ADDR . PORT, … }`: a service port's providers in one family. */
const NumgenDnat = z.object({
  dnat: z.object({
    family: z.enum(["ip", "ip6"]),
    addr: z.object({
      map: z.object({
        data: z.object({ set: z.array(z.tuple([z.number(), z.object({ concat: z.tuple([z.string(), z.number()]) })])) }),
      }),
    }),
  }),
});

/** One entry of `bridge -json fdb show`. */
const FdbEntry = z.object({
  mac: z.string(),
  ifname: z.string().optional(),
  dst: z.string().optional(),
  master: z.string().optional(),
  flags: z.array(z.string()).default([]),
  state: z.string().default(""),
});

/** One entry of `ip -json neigh show`. */
const Neighbour = z.object({
  dst: z.string(),
  dev: z.string().optional(),
  lladdr: z.string().optional(),
  state: z.array(z.string()).default([]),
});

function fail(argv: string[], what: string): never {
  throw unexpectedOutput(argv, what);
}

function parseWith<T>(schema: z.ZodType<T>, text: string, argv: string[]): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    fail(argv, `not JSON: ${text.slice(0, 200)}`);
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    fail(argv, `${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
  }
  return result.data;
}

/**
 * Splits the output of `ip -json -batch` / `tc -json -batch`: each command prints one JSON
 * document on its own line. Returns exactly `count` documents or throws.
 */
export function splitBatchJson(text: string, count: number, argv: string[]): string[] {
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  if (lines.length !== count) fail(argv, `expected ${count} JSON documents, got ${lines.length}`);
  return lines;
}

/** `ip -json netns list` (prints nothing at all when there is no namespace). */
export function parseNetnsList(text: string, argv: string[]): string[] {
  if (text.trim() === "") return [];
  return parseWith(NetnsList, text, argv).map((n) => n.name);
}

export function parseLinks(text: string, argv: string[]): IpLink[] {
  return parseWith(z.array(IpLink), text, argv);
}

export function parseRoutes(text: string, argv: string[]): IpRoute[] {
  return parseWith(z.array(IpRoute), text, argv);
}

/** Global-scope addresses of a link as canonical "addr/len" (link-local and host scope are the kernel's). */
export function linkAddresses(link: IpLink): string[] {
  return link.addr_info
    .filter((a) => (a.family === "inet" || a.family === "inet6") && (a.scope ?? "global") === "global")
    .map((a) => `${canonicalIp(a.local) ?? a.local}/${a.prefixlen}`);
}

/** Link-local IPv6 addresses of a link as canonical "addr/len" (the kernel's own and any we added). */
export function linkLocalAddresses(link: IpLink): string[] {
  return link.addr_info
    .filter((a) => a.family === "inet6" && a.scope === "link")
    .map((a) => `${canonicalIp(a.local) ?? a.local}/${a.prefixlen}`);
}

/** Those of linkAddresses() flagged noprefixroute (the kernel made no subnet route for them). */
export function linkNoPrefixRoute(link: IpLink): string[] {
  return link.addr_info
    .filter((a) => (a.family === "inet" || a.family === "inet6") && (a.scope ?? "global") === "global" && a.noprefixroute === true)
    .map((a) => `${canonicalIp(a.local) ?? a.local}/${a.prefixlen}`);
}

export function linkMac(link: IpLink): string {
  return canonicalMac(link.address ?? "") ?? (link.address ?? "");
}

export function linkUp(link: IpLink): boolean {
  return link.flags.includes("UP");
}

export function linkKind(link: IpLink): string {
  return link.linkinfo?.info_kind ?? "";
}

/** Default routes with a gateway through `dev` in the main table. */
export function defaultRoutes(routes: IpRoute[], dev: string): DefaultRoute[] {
  return routes
    .filter(
      (r) =>
        r.dev === dev &&
        (r.dst === "default" || r.dst === "0.0.0.0/0" || r.dst === "::/0") &&
        r.gateway !== undefined &&
        (r.table === undefined || r.table === "main") &&
        (r.type === undefined || r.type === "unicast"),
    )
    .map((r) => {
      const via = canonicalIp(r.gateway!) ?? r.gateway!;
      return { family: familyOf(via), via };
    });
}

export function parseQdiscs(text: string, argv: string[]): ObservedQdisc[] {
  return parseWith(z.array(TcQdisc), text, argv).map((q) => ({
    dev: q.dev,
    kind: q.kind,
    handle: q.handle,
    root: q.root === true,
    shaper:
      q.kind === "tbf" && q.options?.rate !== undefined && q.options.burst !== undefined
        ? { rateBytes: q.options.rate, burstBytes: q.options.burst }
        : null,
  }));
}

/** Mirred redirects among the filters `tc -json filter show dev DEV ingress` printed. */
export function parseRedirects(dev: string, text: string, argv: string[]): ObservedRedirect[] {
  return parseWith(z.array(TcFilter), text, argv).flatMap((f) =>
    (f.options?.actions ?? [])
      .filter((a) => a.kind === "mirred" && a.to_dev !== undefined)
      .map((a) => ({ dev, toDev: a.to_dev! })),
  );
}

/** Whether `nft -j list tables` shows the table. */
export function hasNftTable(text: string, family: string, name: string, argv: string[]): boolean {
  return parseWith(NftTables, text, argv).nftables.some((e) => e.table?.family === family && e.table.name === name);
}

/** `sysctl -e k1 k2 …` prints "key = value" lines. */
export function parseSysctls(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf(" = ");
    if (eq > 0) values[line.slice(0, eq).trim()] = line.slice(eq + 3).trim();
  }
  return values;
}

/** `bridge -json fdb show`: entries of the named devices only (the JSON names the device unless filtered by dev). */
export function parseFdb(text: string, devs: ReadonlySet<string>, argv: string[]): ObservedFdb[] {
  if (text.trim() === "") return [];
  return parseWith(z.array(FdbEntry), text, argv)
    .filter((e) => e.ifname !== undefined && devs.has(e.ifname))
    .map((e) => ({
      dev: e.ifname!,
      mac: canonicalMac(e.mac) ?? e.mac,
      dst: e.dst === undefined ? null : (canonicalIp(e.dst) ?? e.dst),
      self: e.flags.includes("self"),
      master: e.master ?? null,
      state: e.state,
    }));
}

/** `ip -json neigh show` (IPv4 and IPv6). */
export function parseNeighbours(text: string, argv: string[]): ObservedNeighbour[] {
  if (text.trim() === "") return [];
  return parseWith(z.array(Neighbour), text, argv)
    .filter((n) => n.dev !== undefined)
    .map((n) => ({
      dev: n.dev!,
      ip: canonicalIp(n.dst) ?? n.dst,
      mac: n.lladdr === undefined ? null : (canonicalMac(n.lladdr) ?? n.lladdr),
      permanent: n.state.includes("PERMANENT"),
    }));
}

/** `ip -json neigh show proxy`: proxy (NDP/ARP) entries by address and device. */
export function parseProxyNeighbours(text: string, argv: string[]): { ip: string; dev: string }[] {
  if (text.trim() === "") return [];
  return parseWith(z.array(Neighbour), text, argv)
    .filter((n) => n.dev !== undefined)
    .map((n) => ({ ip: canonicalIp(n.dst) ?? n.dst, dev: n.dev! }));
}

/** IPv4/IPv6 default routes with a gateway in the main table, on any device. */
export function parseDefaultRoutes(routes: IpRoute[]): ObservedRoute[] {
  return [...new Set(routes.map((r) => r.dev ?? ""))].flatMap((dev) =>
    defaultRoutes(routes, dev).map((r) => ({ ...r, dev })),
  );
}

/**
 * Host routes ("a.b.c.d/32", "x::y/128") of the main table, unicast, not the kernel's own (`proto kernel`),
 * on any device. `ip -json route` prints a host route's dst without its length.
 */
export function parseHostRoutes(routes: IpRoute[]): { dst: string; via: string | null; dev: string }[] {
  const result: { dst: string; via: string | null; dev: string }[] = [];
  for (const r of routes) {
    if (r.dev === undefined || r.protocol === "kernel") continue;
    if ((r.table !== undefined && r.table !== "main") || (r.type !== undefined && r.type !== "unicast")) continue;
    const [text, len] = r.dst.split("/");
    const address = canonicalIp(text ?? "");
    if (address === null) continue;
    const full = familyOf(address) === 4 ? 32 : 128;
    if (len !== undefined && Number(len) !== full) continue;
    const via = r.gateway === undefined ? null : (canonicalIp(r.gateway) ?? r.gateway);
    result.push({ dst: `${address}/${full}`, via, dev: r.dev });
  }
  return result;
}

/**
 * What the services table (`nft -j list table inet netplugin_lb`, renderServices.ts) DNATs to: the VIP, protocol
 * and port of each element of its verdict maps joined with the providers of the chain it goes to, in the VIP's
 * family. Objects of any other shape (other maps and rules, a table of an older agent) give nothing.
 */
export function parseLbBackends(text: string, argv: string[]): ServiceBackend[] {
  const ports: Array<{ vip: string; protocol: "tcp" | "udp"; port: number; chain: string }> = [];
  const providers = new Map<string, Array<{ address: string; targetPort: number }>>();
  for (const object of parseWith(NftObjects, text, argv).nftables) {
    const map = NftMap.safeParse(object);
    if (map.success) {
      for (const element of map.data.map.elem) {
        const parsed = ServiceElement.safeParse(element);
        if (!parsed.success) continue;
        const [{ concat: [vip, protocol, port] }, { goto }] = parsed.data;
        const canonical = canonicalIp(vip);
        if (canonical !== null) ports.push({ vip: canonical, protocol, port, chain: goto.target });
      }
    }
    const rule = NftRule.safeParse(object);
    if (rule.success) {
      const list = providers.get(rule.data.rule.chain) ?? [];
      for (const statement of rule.data.rule.expr) {
        const dnat = NumgenDnat.safeParse(statement);
        if (!dnat.success) continue;
        for (const [, { concat: [address, targetPort] }] of dnat.data.dnat.addr.map.data.set) {
          const canonical = canonicalIp(address);
          if (canonical !== null) list.push({ address: canonical, targetPort });
        }
      }
      providers.set(rule.data.rule.chain, list);
    }
  }
  return ports.flatMap(({ chain, ...port }) =>
    (providers.get(chain) ?? []).filter((p) => familyOf(p.address) === familyOf(port.vip)).map((p) => ({ ...port, ...p })),
  );
}

/**
 * The tag in `comment "netplugin:<tag>"` of a table as `nft list table` prints it (the JSON output of
 * nft 1.0.6 leaves table comments out); "" when the table has no such comment.
 */
export function nftTableTag(text: string): string {
  return /^\s*comment "netplugin:([0-9a-f]+)"\s*$/m.exec(text)?.[1] ?? "";
}
