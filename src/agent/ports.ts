// Published host ports (`-p` in Docker and podman, CNI portMappings) as the agent keeps them with an
// endpoint's attachment, and the rules that decide whether a new endpoint may have them. The datapath
// (datapath/linux/renderPorts.ts) DNATs a host port to the tenant's uplink at the same port and from there
// to the container, so a port is taken per host address across the host, and per tenant whatever the
// address (the tenant sees only the port). A container's interfaces share its mappings: runtimes hand the
// same list to every network (podman), and only the interface with the default route gets them
// (compile.ts), because the replies leave by it.

import { isIPv4, isIPv6 } from "node:net";
import { z } from "zod";
import { hostIPsOverlap } from "../datapath/index.js";
import { ConflictError, ValidationError } from "../lib/errors.js";

export const PortMapping = z.object({
  protocol: z.enum(["tcp", "udp", "sctp"]),
  hostPort: z.number().int().min(1).max(65_535),
  containerPort: z.number().int().min(1).max(65_535),
  /** A canonical IPv4 address of the host; "" for all of them. */
  hostIP: z.string(),
});
export type PortMapping = z.infer<typeof PortMapping>;

/** What a runtime asked for, before the checks: CNI's fields; hostIP absent, "" or 0.0.0.0 is every address. */
export interface PortRequest {
  protocol: string;
  hostPort: number;
  containerPort: number;
  hostIP?: string;
}

/** Who holds mappings: an attachment (or one about to be). */
export interface PortHolder {
  containerId: string;
  endpointId: string;
  tenant: string;
  portMappings: PortMapping[];
}

export function describePort(m: { protocol: string; hostPort: number; hostIP?: string }): string {
  return `${m.hostIP ? `${m.hostIP}:` : ""}${m.hostPort}/${m.protocol}`;
}

/**
 * Checks and canonicalises requested mappings; exact repeats are dropped. Throws ValidationError naming
 * the first bad one. `vxlanPort`: the overlay's UDP port, which can never be published.
 */
export function normalizePorts(requests: PortRequest[], vxlanPort: number): PortMapping[] {
  const out: PortMapping[] = [];
  for (const r of requests) {
    const what = describePort(r);
    const fail = (why: string): never => {
      throw new ValidationError(`Cannot publish host port ${what}: ${why}`);
    };
    const hostIP = r.hostIP === undefined || r.hostIP === "" || r.hostIP === "0.0.0.0" ? "" : r.hostIP;
    if (hostIP !== "" && isIPv6(hostIP)) fail("IPv6 host addresses are not supported (tenants reach their host over IPv4)");
    if (hostIP !== "" && !isIPv4(hostIP)) fail(`"${hostIP}" is not an IPv4 address`);
    const parsed = PortMapping.safeParse({ protocol: r.protocol, hostPort: r.hostPort, containerPort: r.containerPort, hostIP });
    if (!parsed.success) fail(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
    const m = parsed.data!;
    if (m.protocol === "udp" && m.hostPort === vxlanPort) fail("it is the VXLAN port of the overlay");
    if (!out.some((o) => samePort(o, m) && o.hostIP === m.hostIP && o.containerPort === m.containerPort)) out.push(m);
  }
  const clash = out.find((m, i) => out.some((o, j) => j < i && samePort(o, m) && o.containerPort !== m.containerPort));
  if (clash !== undefined) throw new ValidationError(`Cannot publish host port ${describePort(clash)}: it is mapped to two container ports`);
  return out;
}

function samePort(a: PortMapping, b: PortMapping): boolean {
  return a.protocol === b.protocol && a.hostPort === b.hostPort;
}

/**
 * Why `holder` cannot have its mappings next to `others` (the host's attachments), or undefined. Another
 * interface of the same container never clashes: it carries the same list.
 */
export function portConflict(holder: PortHolder, others: PortHolder[]): string | undefined {
  for (const o of others) {
    if (o.containerId === holder.containerId) continue;
    for (const m of holder.portMappings) {
      for (const p of o.portMappings.filter((x) => samePort(x, m))) {
        if (hostIPsOverlap(p.hostIP, m.hostIP)) return `host port ${describePort(m)} is published by container ${o.containerId} already`;
        if (o.tenant === holder.tenant) {
          return `host port ${m.hostPort}/${m.protocol} goes to container ${o.containerId} already (a tenant has one target per host port, whatever the host address)`;
        }
      }
    }
  }
  return undefined;
}

/** A request that may name a range of host ports (Docker's HostPort..HostPortEnd): one of them is to be picked. */
export interface PortRangeRequest extends PortRequest {
  /** Last port of the range; equal to hostPort (or 0) for a single port. */
  hostPortEnd: number;
}

/**
 * One mapping per request, a range getting its first port that is free next to `others` and not taken by an
 * earlier request of the same list, as Docker's bridge driver picks one. The VXLAN port inside a range is
 * skipped; asked for alone it is refused (normalizePorts). Throws ValidationError or ConflictError.
 */
export function pickPorts(holder: Omit<PortHolder, "portMappings">, requests: PortRangeRequest[], others: PortHolder[], vxlanPort: number): PortMapping[] {
  const chosen: PortMapping[] = [];
  for (const r of requests) {
    const last = Math.max(r.hostPort, r.hostPortEnd);
    const what = `${r.hostIP ? `${r.hostIP}:` : ""}${r.hostPort}${last > r.hostPort ? `-${last}` : ""}/${r.protocol}`;
    if (r.hostPortEnd !== 0 && r.hostPortEnd < r.hostPort) throw new ValidationError(`Cannot publish host port ${what}: the range ends before it starts`);
    let why = "";
    for (let port = r.hostPort; port <= last; port++) {
      if (last > r.hostPort && r.protocol === "udp" && port === vxlanPort) continue;
      const [m] = normalizePorts([{ ...r, hostPort: port }], vxlanPort);
      // Whatever the host addresses: a tenant has one target per host port (normalizePorts).
      const twice = chosen.some((c) => samePort(c, m!) && c.containerPort !== m!.containerPort);
      const conflict = portConflict({ ...holder, portMappings: [m!] }, others) ?? (twice ? `host port ${describePort(m!)} is asked for twice` : undefined);
      if (conflict === undefined) {
        chosen.push(m!);
        why = "";
        break;
      }
      why ||= conflict;
    }
    if (why !== "") throw new ConflictError(last > r.hostPort ? `Cannot publish host port ${what}: no port of the range is free` : `Cannot publish host port: ${why}`);
  }
  return normalizePorts(chosen, vxlanPort);
}

/**
 * The mappings each holder gets, in order: a mapping that admission would refuse (normalizePorts) or that
 * clashes with one granted before is left out. Admission (CNI ADD, Docker) refuses both, so this only
 * matters for state that bypassed it (files from an older agent, edited by hand), which must not keep the
 * whole host from converging.
 */
export function grantPorts(holders: PortHolder[], vxlanPort: number): Map<string, PortMapping[]> {
  const admissible = (m: PortMapping): boolean => {
    try {
      return normalizePorts([m], vxlanPort).length === 1;
    } catch {
      return false;
    }
  };
  const granted: PortHolder[] = [];
  const out = new Map<string, PortMapping[]>();
  for (const h of holders) {
    const kept = h.portMappings.filter((m) => admissible(m) && portConflict({ ...h, portMappings: [m] }, granted) === undefined);
    granted.push({ ...h, portMappings: kept });
    out.set(h.endpointId, kept);
  }
  return out;
}

/** The same mappings, whatever their order. */
export function samePorts(a: PortMapping[], b: PortMapping[]): boolean {
  const key = (list: PortMapping[]) => list.map((m) => `${describePort(m)}>${m.containerPort}`).sort().join(",");
  return key(a) === key(b);
}
