// Handing a veth's container side to dockerd, and finding it again.
//
// libnetwork's Join answers only a name (SrcName): dockerd looks that link up
// in its *own* network namespace, moves it into the container's sandbox,
// renames it (DstPrefix + an index only dockerd knows: eth0, eth1, …) and sets
// its addresses, MAC and routes. Our datapath instead creates the container
// side directly where it belongs and configures it, and re-creates it when it
// is not there. The two meet like this (endpoints.ts does the steps):
//
//  1. Join records the attachment with the container side in a staging
//     namespace of ours, named SrcName, and has the reconciler plumb it as any
//     endpoint: host side on the network's bridge, container side configured (without default routes) —
//     harmlessly, in a namespace nobody uses.
//  2. Under the kernel lock (no reconcile run in flight) the endpoint becomes
//     "in transit" and the link is moved into dockerd's namespace; Join answers.
//     While in transit the datapath must leave it alone (desired.ts).
//  3. dockerd fills the sandbox when the container starts (runc's prestart
//     hook; at once for `docker network connect`): it moves, renames and
//     configures the interface, then sets the sandbox's default routes. The
//     agent polls the sandbox for the veth whose MAC is the endpoint's, renamed
//     and up, waits a moment for the routes, notes which default routes dockerd
//     put on it, and only then records the attachment with netns = SandboxKey
//     and ifname = that name. From there on the reconciler checks it like any
//     container interface, keeping dockerd's default routes (dockerd moves a
//     sandbox's default route between its networks as they come and go).
//  4. Leave: hands off again (dockerd takes the interface out and may move the
//     sandbox's default route), until DeleteEndpoint removes the attachment
//     and with it the veth.
//
// Why not the final name up front: dockerd decides the index (it counts every
// interface the sandbox ever had) and 20.10 ignores a DstName. Why not create
// the container side in dockerd's namespace directly: the datapath would put
// the container's addresses and default route there — the host's namespace.

import { existsSync } from "node:fs";
import type { Executor } from "../../datapath/linux/index.js";
import { KernelError } from "../../datapath/linux/index.js";

export interface SandboxLink {
  ifname: string;
  ifindex: number;
  mac: string;
  up: boolean;
  /** The peer's ifindex (in the peer's namespace). */
  peerIndex: number | undefined;
}

export interface DefaultRoute {
  dev: string;
  v6: boolean;
}

interface IpLink {
  ifindex: number;
  ifname: string;
  address?: string;
  flags?: string[];
  link_index?: number;
  linkinfo?: { info_kind?: string };
}

interface IpRoute {
  dst?: string;
  dev?: string;
}

export class Handoff {
  constructor(
    private readonly executor: Executor,
    /** Our staging namespace's name (`ip netns`). */
    readonly stagingNamespace: string,
    /** dockerd's network namespace, as a path. */
    readonly dockerNetns: string,
  ) {}

  get stagingPath(): string {
    return `/var/run/netns/${this.stagingNamespace}`;
  }

  /** Creates the staging namespace if it is missing. Idempotent. */
  async ensureStaging(): Promise<void> {
    if (existsSync(this.stagingPath)) return;
    try {
      await this.executor.run(["ip", "netns", "add", this.stagingNamespace]);
    } catch (err) {
      if (!(err instanceof KernelError && err.isExists())) throw err;
    }
  }

  /** Runs a command in dockerd's namespace. */
  run(argv: string[]): Promise<string> {
    return this.executor.run(["nsenter", `--net=${this.dockerNetns}`, ...argv]);
  }

  /** Moves a link from the staging namespace into dockerd's. */
  async giveToDocker(srcName: string): Promise<void> {
    await this.executor.run(["ip", "-n", this.stagingNamespace, "link", "set", "dev", srcName, "netns", this.dockerNetns]);
  }

  /** Takes a link back from dockerd's namespace into staging (a Join being rolled back). Idempotent. */
  async takeBack(srcName: string): Promise<void> {
    try {
      await this.executor.run(["nsenter", `--net=${this.dockerNetns}`, "ip", "link", "set", "dev", srcName, "netns", this.stagingPath]);
    } catch (err) {
      if (!(err instanceof KernelError && err.isNotFound())) throw err;
    }
  }

  /** The veth links of a sandbox; undefined when the sandbox is gone. */
  async links(sandbox: string): Promise<SandboxLink[] | undefined> {
    if (!existsSync(sandbox)) return undefined;
    let text: string;
    try {
      text = await this.executor.run(["nsenter", `--net=${sandbox}`, "ip", "-json", "-d", "link", "show"]);
    } catch (err) {
      if (!existsSync(sandbox)) return undefined;
      throw err;
    }
    return (JSON.parse(text || "[]") as IpLink[])
      .filter((l) => l.linkinfo?.info_kind === "veth")
      .map((l) => ({
        ifname: l.ifname,
        ifindex: l.ifindex,
        mac: (l.address ?? "").toLowerCase(),
        up: (l.flags ?? []).includes("UP"),
        peerIndex: l.link_index,
      }));
  }

  /** The ifindex of an endpoint's host side in its tenant namespace. */
  async hostIndex(namespace: string, hostLink: string): Promise<number | undefined> {
    try {
      const links = JSON.parse((await this.executor.run(["ip", "-n", namespace, "-json", "link", "show", "dev", hostLink])) || "[]") as IpLink[];
      return links[0]?.ifindex;
    } catch (err) {
      if (err instanceof KernelError && err.isNotFound()) return undefined;
      throw err;
    }
  }

  /** The default routes of a sandbox, both families; [] when it is gone. */
  async defaultRoutes(sandbox: string): Promise<DefaultRoute[]> {
    if (!existsSync(sandbox)) return [];
    const read = async (v6: boolean): Promise<DefaultRoute[]> => {
      const argv = ["nsenter", `--net=${sandbox}`, "ip", v6 ? "-6" : "-4", "-json", "route", "show", "default"];
      try {
        const routes = JSON.parse((await this.executor.run(argv)) || "[]") as IpRoute[];
        return routes.filter((r) => r.dev !== undefined).map((r) => ({ dev: r.dev!, v6 }));
      } catch {
        return [];
      }
    };
    return [...(await read(false)), ...(await read(true))];
  }
}
