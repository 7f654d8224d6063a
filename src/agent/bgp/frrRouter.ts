// A real router for tests and simulated clusters: FRR's zebra + bgpd inside one network
// namespace, standing in for a top-of-rack switch. Not used by the agent.
//
// How it runs (FRR 8.4 from Debian, no systemd, no /etc/frr): both daemons start with -d and
// their own pid files, vty socket dir, zebra socket and log files under stateDir, and -N <name> so
// that two routers (or a system FRR) never share a default path; -P 0 turns the TCP vty off.
// They drop root to the "frr" user, so stateDir is chowned to it. zebra installs the best routes
// into the namespace's kernel (proto bgp) and the namespace forwards, so traffic really flows
// through the router; with zebra, bgpd also passes a peer's next hop through unchanged to peers on
// the same subnet (third-party next hop), so hosts on one segment reach each other directly.
// Stopping goes through start-stop-daemon with the pid file and the binary path, never by name.

import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { UpstreamError, errorMessage } from "../../lib/errors.js";
import type { RunCommand } from "./types.js";

export interface FrrNeighbor {
  address: string;
  as: number;
}

export interface FrrRouterOptions {
  run: RunCommand;
  /** Existing namespace with the router's addresses already on its interfaces. */
  netns: string;
  /** Created; holds configs, pid files, sockets and logs. Must not be shared with another router. */
  stateDir: string;
  /** FRR pathspace (-N); unique per router. */
  name: string;
  routerId: string;
  as: number;
  neighbors: FrrNeighbor[];
  /** Seconds between connection attempts; default 2. */
  connectRetrySec?: number;
  /** Default "/usr/lib/frr". */
  frrDir?: string;
  /** Wait for bgpd's vty; default 10 000 ms. */
  startTimeoutMs?: number;
}

/** bgpd.conf for a router that accepts its eBGP peers without policy, for IPv4 and IPv6 unicast. */
export function renderBgpdConfig(o: Pick<FrrRouterOptions, "routerId" | "as" | "neighbors" | "connectRetrySec">): string {
  const retry = o.connectRetrySec ?? 2;
  return [
    "frr defaults datacenter",
    "hostname tor",
    `router bgp ${o.as}`,
    ` bgp router-id ${o.routerId}`,
    // FRR refuses eBGP routes without a policy by default (RFC 8212).
    " no bgp ebgp-requires-policy",
    ...o.neighbors.flatMap((n) => [` neighbor ${n.address} remote-as ${n.as}`, ` neighbor ${n.address} timers connect ${retry}`]),
    " address-family ipv6 unicast",
    ...o.neighbors.map((n) => `  neighbor ${n.address} activate`),
    " exit-address-family",
    "",
  ].join("\n");
}

export class FrrRouter {
  private constructor(
    private readonly o: FrrRouterOptions,
    private readonly frrDir: string,
  ) {}

  private get vtyDir(): string {
    return join(this.o.stateDir, "vty");
  }

  private pidFile(daemon: "zebra" | "bgpd"): string {
    return join(this.o.stateDir, `${daemon}.pid`);
  }

  /** Starts zebra and bgpd in the namespace; on failure stops what it started and throws. */
  static async start(o: FrrRouterOptions): Promise<FrrRouter> {
    const router = new FrrRouter(o, o.frrDir ?? "/usr/lib/frr");
    try {
      await router.startDaemons();
    } catch (err) {
      await router.stop().catch(() => undefined);
      throw err;
    }
    return router;
  }

  private async startDaemons(): Promise<void> {
    const o = this.o;
    await mkdir(this.vtyDir, { recursive: true });
    await writeFile(join(o.stateDir, "zebra.conf"), "hostname tor\n");
    await writeFile(join(o.stateDir, "bgpd.conf"), renderBgpdConfig(o));
    await o.run(["chown", "-R", "frr:frr", o.stateDir]);
    await o.run(["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"], { netns: o.netns });
    const zserv = join(o.stateDir, "zserv.api");
    for (const daemon of ["zebra", "bgpd"] as const) {
      await o.run(
        [
          join(this.frrDir, daemon),
          "-d",
          "-N",
          o.name,
          "-f",
          join(o.stateDir, `${daemon}.conf`),
          "-i",
          this.pidFile(daemon),
          "--vty_socket",
          this.vtyDir,
          "-z",
          zserv,
          "-P",
          "0",
          "--log",
          `file:${join(o.stateDir, `${daemon}.log`)}`,
        ],
        { netns: o.netns },
      );
    }
    const deadline = Date.now() + (o.startTimeoutMs ?? 10_000);
    for (;;) {
      try {
        await this.vtysh("show bgp summary json");
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new UpstreamError(`Cannot start FRR "${o.name}": bgpd vty did not answer: ${errorMessage(err)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Runs one vtysh command against this router's bgpd and returns its output. */
  vtysh(command: string): Promise<string> {
    return this.o.run(["vtysh", "--vty_socket", this.vtyDir, "-d", "bgpd", "-c", command]);
  }

  /** Best-path next hops per prefix in bgpd's table ("show bgp ipv4|ipv6 unicast json"). */
  async routes(family: "ipv4" | "ipv6"): Promise<Map<string, string[]>> {
    const out = JSON.parse(await this.vtysh(`show bgp ${family} unicast json`)) as {
      routes?: Record<string, { bestpath?: boolean; valid?: boolean; nexthops?: { ip?: string }[] }[]>;
    };
    const result = new Map<string, string[]>();
    for (const [prefix, paths] of Object.entries(out.routes ?? {})) {
      const best = paths.find((p) => p.bestpath === true) ?? paths[0];
      result.set(prefix, (best?.nexthops ?? []).map((n) => n.ip ?? ""));
    }
    return result;
  }

  /** Session state per neighbor address ("Established", "Active", …). */
  async sessions(): Promise<Map<string, string>> {
    const out = JSON.parse(await this.vtysh("show bgp ipv4 unicast summary json")) as { peers?: Record<string, { state?: string }> };
    return new Map(Object.entries(out.peers ?? {}).map(([address, p]) => [address, p.state ?? ""]));
  }

  /** Stops bgpd, then zebra (TERM, KILL after 5 s). Does nothing for a daemon that is not running. */
  async stop(): Promise<void> {
    for (const daemon of ["bgpd", "zebra"] as const) {
      await this.o.run([
        "start-stop-daemon",
        "--stop",
        "--pidfile",
        this.pidFile(daemon),
        "--exec",
        join(this.frrDir, daemon),
        "--retry",
        "TERM/5/KILL/2",
        "--oknodo",
      ]);
    }
  }
}
