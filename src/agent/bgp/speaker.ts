// The host's BGP speaker for routing mode: a gobgpd that peers with one router (the ToR),
// announces this host's container prefixes with the host's router address as next hop, and the
// routes it learns installed into the host's kernel (gobgpd itself never touches the kernel).
//
// Design: apply() is level-triggered. It makes gobgpd run with the wanted config (restarting it
// when AS, router id, neighbor or timers change: gobgpd cannot change its global config live),
// then reads gobgpd's RIB and the kernel's routes back and fixes only the difference, so calling
// it again, or from a restarted agent that found gobgpd through its pid file, changes nothing.
// Learned routes arrive whenever the router sends them, so while configured the same sync runs
// every resyncIntervalMs; it also starts gobgpd again if it died. Kernel routes carry our
// protocol (default `proto bgp`) and we only ever remove routes carrying it.
//
// History: Contiv embedded gobgp in netplugin and put the router address on an OVS port; here the
// underlay interface already holds it, so we never assign addresses.

import { pino, type Logger } from "pino";

import { UpstreamError, errorMessage } from "../../lib/errors.js";
import { parseBgpConfig, renderGobgpdConfig, type BgpConfig, type BgpSettings, type DaemonSettings } from "./config.js";
import { GobgpDaemon } from "./daemon.js";
import { parseNeighbors, parseRib, type NeighborState, type RibPath } from "./gobgpJson.js";
import { canonicalIp, familyOf } from "./prefix.js";
import {
  describeRoute,
  diffAnnouncements,
  diffKernelRoutes,
  parseKernelRoutes,
  renderAnnouncements,
  renderLearnedRoutes,
  renderRouteBatch,
  type Announcement,
  type KernelRoute,
} from "./routes.js";
import type { BgpInspect, RunCommand } from "./types.js";

export interface BgpSpeakerOptions {
  /** Runs every command (gobgpd, gobgp, ip, start-stop-daemon). */
  run: RunCommand;
  /** The host's network namespace (tests); undefined: the namespace the agent runs in. */
  hostNamespace?: string;
  /** gobgpd's config, pid, socket and log files live here; one dir per host. */
  stateDir: string;
  log?: Logger;
  /** Protocol that marks our kernel routes (name from rt_protos or a number); default "bgp". */
  routeProtocol?: string;
  /** Full re-sync while configured; default 5 000 ms; 0 disables (sync only in apply()). */
  resyncIntervalMs?: number;
  /** BGP listen port; default 179 (Contiv's); -1: do not listen, only connect out. */
  listenPort?: number;
  /** Seconds between connection attempts; default 10 (Contiv used 60). */
  connectRetrySec?: number;
  /** Default "/usr/bin/gobgpd". */
  gobgpdPath?: string;
  /** Default "gobgp". */
  gobgpPath?: string;
  /** Wait for gobgpd's API after a start; default 10 000 ms. */
  startTimeoutMs?: number;
}

/** How many gobgp CLI calls run at once when many prefixes change. */
const CLI_PARALLEL = 8;

export class BgpSpeaker {
  private readonly daemon: GobgpDaemon;
  private readonly log: Logger;
  private readonly protocol: string;
  private readonly daemonSettings: DaemonSettings;
  private chain: Promise<unknown> = Promise.resolve();
  private settings: BgpSettings | undefined;
  private timer: NodeJS.Timeout | undefined;
  private tickQueued = false;
  private lastTickError = "";
  private lastSkipped = "";
  /** This speaker has seen its gobgpd running: finding it gone later means it died. */
  private daemonSeen = false;

  constructor(private readonly o: BgpSpeakerOptions) {
    this.daemon = new GobgpDaemon({
      run: o.run,
      netns: o.hostNamespace,
      stateDir: o.stateDir,
      ...(o.gobgpdPath === undefined ? {} : { gobgpdPath: o.gobgpdPath }),
      ...(o.gobgpPath === undefined ? {} : { gobgpPath: o.gobgpPath }),
      ...(o.startTimeoutMs === undefined ? {} : { startTimeoutMs: o.startTimeoutMs }),
    });
    this.log = o.log ?? pino({ level: "silent" });
    this.protocol = o.routeProtocol ?? "bgp";
    this.daemonSettings = { listenPort: o.listenPort ?? 179, connectRetrySec: o.connectRetrySec ?? 10 };
  }

  /**
   * Makes this host's BGP match `config`; undefined stops gobgpd and removes the routes we
   * installed. Idempotent. Throws ValidationError for a bad config (nothing changed) and
   * UpstreamError when gobgpd cannot start or some routes could not be changed (the rest were).
   */
  apply(config: BgpConfig | undefined): Promise<void> {
    // Checked before queueing so a bad config fails without touching anything.
    let settings: BgpSettings | undefined;
    try {
      settings = config === undefined ? undefined : parseBgpConfig(config);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.serialize(async () => {
      if (settings === undefined) await this.teardown();
      else {
        this.settings = settings;
        this.startTimer();
        await this.sync(settings);
      }
    });
  }

  /** Contiv's Bgp oper for this host. Throws UpstreamError when gobgpd is configured but does not answer. */
  inspect(): Promise<BgpInspect> {
    return this.serialize(async () => {
      const settings = this.settings;
      if (settings === undefined && !(await this.daemon.isRunning())) {
        return { neighborStatus: "", adminStatus: "", numRoutes: 0, routes: [] };
      }
      let neighbors: NeighborState[];
      let rib: RibPath[];
      try {
        neighbors = parseNeighbors(await this.daemon.cli(["neighbor", "-j"]));
        rib = await this.readRib();
      } catch (err) {
        throw new UpstreamError(`Cannot inspect BGP: gobgpd at "${this.daemon.socket}" did not answer: ${errorMessage(err)}`, {
          cause: err,
        });
      }
      const peer = neighbors.find((n) => n.address === settings?.neighbor) ?? neighbors[0];
      const routes = rib.filter((p) => p.learned && p.best).map(describeRoute);
      return {
        neighborStatus: peer?.sessionState ?? "",
        adminStatus: peer?.adminState ?? "",
        numRoutes: routes.length,
        routes,
      };
    });
  }

  /**
   * Stops the periodic re-sync and waits for work in flight. gobgpd, its announcements and the
   * installed routes stay, so that an agent restart does not cut traffic; a new speaker with the
   * same stateDir adopts them. Use apply(undefined) to take BGP down.
   */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.chain.catch(() => undefined);
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work, work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private startTimer(): void {
    const interval = this.o.resyncIntervalMs ?? 5_000;
    if (this.timer !== undefined || interval <= 0) return;
    this.timer = setInterval(() => this.tick(), interval);
    this.timer.unref();
  }

  private tick(): void {
    if (this.tickQueued) return;
    this.tickQueued = true;
    void this.serialize(async () => {
      this.tickQueued = false;
      if (this.settings === undefined || this.timer === undefined) return;
      try {
        await this.sync(this.settings);
        this.lastTickError = "";
      } catch (err) {
        const message = errorMessage(err);
        // A lasting failure is logged once, not every interval.
        if (message !== this.lastTickError) this.log.warn({ op: "bgp-resync", err: message }, "BGP re-sync failed");
        this.lastTickError = message;
      }
    });
  }

  private async sync(s: BgpSettings): Promise<void> {
    const started = Date.now();
    await this.ensureDaemon(s);
    const underlay = await this.observeUnderlay(s);
    const rib = await this.readRib();
    const failures: string[] = [];

    const nextHop6 = s.routerIp6 ?? underlay.address6;
    const { wanted, skipped } = renderAnnouncements(s.announce, { v4: s.routerId, v6: nextHop6 });
    const skippedKey = skipped.join(",");
    if (skippedKey !== this.lastSkipped && skipped.length > 0) {
      this.log.warn({ op: "bgp-announce", prefixes: skipped }, "Not announcing IPv6 prefixes: no IPv6 next hop (set routerIp6 or give the underlay interface a global IPv6 address)");
    }
    this.lastSkipped = skippedKey;
    const changes = diffAnnouncements(wanted, rib);
    failures.push(...(await this.announce(changes)));

    const { routes, skipped: notInstalled } = renderLearnedRoutes(rib, {
      announced: new Set(s.announce),
      ownAddresses: new Set([s.routerId, ...(nextHop6 === undefined ? [] : [nextHop6])]),
      underlayDev: underlay.dev,
    });
    for (const n of notInstalled) this.log.debug({ op: "bgp-install", prefix: n.prefix, reason: n.reason }, "learned route not installed");
    failures.push(...(await this.installRoutes(routes)));
    this.log.debug({ op: "bgp-sync", durationMs: Date.now() - started }, "BGP synced");
    if (failures.length > 0) throw new UpstreamError(`Cannot sync BGP routes: ${failures.join("; ")}`);
  }

  /** Starts gobgpd, or restarts it when its config file differs from the wanted one. */
  private async ensureDaemon(s: BgpSettings): Promise<void> {
    const config = renderGobgpdConfig(s, this.daemonSettings);
    const running = await this.daemon.isRunning();
    if (running && (await this.daemon.currentConfig()) === config) {
      this.daemonSeen = true;
      return;
    }
    if (!running && this.daemonSeen) this.log.warn({ op: "bgp-start", stateDir: this.o.stateDir }, "gobgpd is not running: starting it again");
    if (running) {
      this.log.info({ op: "bgp-restart", neighbor: s.neighbor, as: s.localAs }, "Restarting gobgpd: config changed");
      await this.daemon.stop();
    }
    await this.daemon.start(config);
    this.daemonSeen = true;
    this.log.info(
      { op: "bgp-start", routerId: s.routerId, as: s.localAs, neighbor: s.neighbor, neighborAs: s.neighborAs },
      "gobgpd started",
    );
  }

  private async teardown(): Promise<void> {
    this.settings = undefined;
    this.daemonSeen = false;
    clearInterval(this.timer);
    this.timer = undefined;
    const wasRunning = await this.daemon.isRunning();
    await this.daemon.stop();
    const failures = await this.installRoutes([]);
    if (wasRunning) this.log.info({ op: "bgp-stop" }, "gobgpd stopped");
    if (failures.length > 0) throw new UpstreamError(`Cannot remove BGP routes: ${failures.join("; ")}`);
  }

  private async readRib(): Promise<RibPath[]> {
    const [v4, v6] = await Promise.all([
      this.daemon.cli(["global", "rib", "-a", "ipv4", "-j"]),
      this.daemon.cli(["global", "rib", "-a", "ipv6", "-j"]),
    ]);
    return [...parseRib(v4), ...parseRib(v6)];
  }

  /** Adds and withdraws our prefixes; returns a message per failure. */
  private async announce(changes: { add: Announcement[]; withdraw: string[] }): Promise<string[]> {
    const family = (prefix: string) => (familyOf(prefix.split("/")[0] ?? "") === 4 ? "ipv4" : "ipv6");
    const jobs = [
      ...changes.withdraw.map((prefix) => ({ what: `withdraw "${prefix}"`, args: ["global", "rib", "-a", family(prefix), "del", prefix] })),
      ...changes.add.map((a) => ({
        what: `announce "${a.prefix}"`,
        args: ["global", "rib", "-a", family(a.prefix), "add", a.prefix, "nexthop", a.nextHop],
      })),
    ];
    const failures: string[] = [];
    for (let i = 0; i < jobs.length; i += CLI_PARALLEL) {
      await Promise.all(
        jobs.slice(i, i + CLI_PARALLEL).map(async (job) => {
          try {
            await this.daemon.cli(job.args);
          } catch (err) {
            failures.push(`${job.what}: ${errorMessage(err)}`);
          }
        }),
      );
    }
    if (changes.add.length > 0 || changes.withdraw.length > 0) {
      this.log.info(
        { op: "bgp-announce", announced: changes.add.map((a) => a.prefix), withdrawn: changes.withdraw, failed: failures.length },
        "BGP announcements changed",
      );
    }
    return failures;
  }

  /** Makes our kernel routes exactly `wanted`; returns a message per failure. */
  private async installRoutes(wanted: KernelRoute[]): Promise<string[]> {
    const ns = this.o.hostNamespace === undefined ? {} : { netns: this.o.hostNamespace };
    const show = (family: "-4" | "-6") => this.o.run(["ip", "-json", family, "route", "show", "table", "main", "proto", this.protocol], ns);
    const [v4, v6] = await Promise.all([show("-4"), show("-6")]);
    const current = [...parseKernelRoutes(v4, 4), ...parseKernelRoutes(v6, 6)];
    const plan = diffKernelRoutes(wanted, current);
    const batch = renderRouteBatch(plan, this.protocol);
    if (batch === "") return [];
    const failures: string[] = [];
    try {
      // -force: one bad route (say, a next hop the kernel rejects) must not keep the others out.
      await this.o.run(["ip", "-force", "-batch", "-"], { ...ns, stdin: batch });
    } catch (err) {
      failures.push(`ip route: ${errorMessage(err)}`);
    }
    this.log.info(
      {
        op: "bgp-routes",
        installed: plan.replace.map((r) => `${r.prefix} via ${r.via}`),
        removed: plan.remove.map((r) => r.prefix),
        failed: failures.length > 0,
      },
      "BGP kernel routes changed",
    );
    return failures;
  }

  /** The interface towards the neighbor and its first global IPv6 address (each undefined when unknown). */
  private async observeUnderlay(s: BgpSettings): Promise<{ dev: string | undefined; address6: string | undefined }> {
    const ns = this.o.hostNamespace === undefined ? {} : { netns: this.o.hostNamespace };
    let dev: string | undefined;
    try {
      const out = JSON.parse(await this.o.run(["ip", "-json", "route", "get", s.neighbor], ns)) as unknown;
      const first = Array.isArray(out) ? (out[0] as { dev?: unknown } | undefined) : undefined;
      dev = typeof first?.dev === "string" ? first.dev : undefined;
    } catch (err) {
      this.log.debug({ op: "bgp-underlay", neighbor: s.neighbor, err: errorMessage(err) }, "no route to the BGP neighbor");
      return { dev: undefined, address6: undefined };
    }
    if (dev === undefined || s.routerIp6 !== undefined) return { dev, address6: undefined };
    let address6: string | undefined;
    try {
      const out = JSON.parse(await this.o.run(["ip", "-json", "-6", "addr", "show", "dev", dev, "scope", "global"], ns)) as unknown;
      const infos = Array.isArray(out) ? out.flatMap((l: { addr_info?: unknown }) => (Array.isArray(l.addr_info) ? l.addr_info : [])) : [];
      for (const info of infos as { local?: unknown; tentative?: unknown; dadfailed?: unknown }[]) {
        const local = typeof info.local === "string" ? canonicalIp(info.local) : null;
        if (local !== null && familyOf(local) === 6 && info.dadfailed !== true) {
          address6 = local;
          break;
        }
      }
    } catch (err) {
      this.log.debug({ op: "bgp-underlay", dev, err: errorMessage(err) }, "cannot read IPv6 addresses of the underlay");
    }
    return { dev, address6 };
  }
}
