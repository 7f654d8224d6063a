// The Docker network and IPAM driver the agent serves on a plugin socket
// (libnetwork remote API): `docker network create -d <name> --ipam-driver
// <name>`, where <name> is the socket's base name. Pools, networks and
// endpoints are netmaster's (master/docker/), addresses are the host's blocks'
// where they can be (blocks.ts) and endpoints of those reach netmaster through
// the same outbox as CNI's (../ipam/local-ipam.ts); the kernel work
// is the reconciler's, with the hand-over to dockerd described in netns.ts.
// Public API: DockerPlugin.

import type { Server } from "node:http";
import { basename } from "node:path";
import type { Logger } from "pino";
import type { Executor } from "../../lib/process.js";
import type { AttachmentStore } from "../attachments.js";
import type { StateView } from "../pipeline/compile.js";
import type { EndpointPlumber } from "../endpoints.js";
import type { MasterClient } from "../master-client.js";
import type { Reconciler } from "../pipeline/reconciler.js";
import type { LocalIpam } from "../ipam/local-ipam.js";
import { Mutex, type DockerContext } from "./context.js";
import { EndpointTracker } from "./endpoints.js";
import { DockerEngine } from "./engine.js";
import { DockerNetns } from "./netns.js";
import { DockerIpam } from "./ipam.js";
import { NetworkTracker } from "./networks.js";
import { removeStaleSocket, servePlugin, type Handler } from "./server.js";
import { DockerStore } from "./state.js";
import { DockerSync } from "./sync.js";
import * as wire from "./wire.js";

export const DEFAULT_DOCKER_PLUGIN_SOCKET = "/run/docker/plugins/netplugin.sock";
export const DEFAULT_DOCKER_NETNS = "/proc/1/ns/net";
export const DEFAULT_DOCKER_API_SOCKET = "/var/run/docker.sock";
export const DEFAULT_DOCKER_POOL_RANGE = "10.200.0.0/16";

export interface DockerPluginOptions {
  host: string;
  prefix: string;
  /** The plugin socket; its base name without ".sock" is the driver name. */
  socketPath: string;
  /** dockerd's network namespace (where it looks for the interfaces we hand it). */
  dockerNetns: string;
  /** dockerd's Engine API socket: Docker's names for new networks, and netctl's networks made in Docker. */
  engineSocket: string;
  /** Where netmaster picks a pool when Docker asks for any (no --subnet). */
  defaultPoolRange: string;
  /** The overlay's UDP port, never published. */
  vxlanPort: number;
  /** Make netmaster's networks and groups Docker networks on this host. */
  sync: boolean;
  stateDir: string;
  master: MasterClient;
  view: StateView;
  synced: () => Promise<void>;
  onStateChange: (listener: () => void) => void;
  attachments: AttachmentStore;
  plumber: EndpointPlumber;
  /** The host's address blocks; undefined: every address through netmaster. */
  localIpam?: LocalIpam;
  reconciler: Reconciler;
  executor: Executor;
  log: Logger;
}

/** For --cleanup: the plugin socket of an agent that is gone (left alone while some process serves it). */
export const removeStalePluginSocket = removeStaleSocket;

export class DockerPlugin {
  private constructor(
    private readonly c: DockerContext,
    private readonly server: Server,
    private readonly sync: DockerSync | undefined,
  ) {}

  /** The driver's records, as it keeps them in memory (and in its state file). */
  get store(): DockerStore {
    return this.c.store;
  }

  /** Serves the plugin socket; undefined (and a warning) when another live process serves it. */
  static async start(o: DockerPluginOptions): Promise<DockerPlugin | undefined> {
    const log = o.log.child({ component: "docker" });
    const driverName = basename(o.socketPath).replace(/\.sock$/, "");
    const c: DockerContext = {
      host: o.host,
      prefix: o.prefix,
      master: o.master,
      view: o.view,
      synced: o.synced,
      store: new DockerStore(o.stateDir),
      attachments: o.attachments,
      plumber: o.plumber,
      localIpam: o.localIpam,
      reconciler: o.reconciler,
      dockerNetns: new DockerNetns(o.executor, o.dockerNetns),
      engine: new DockerEngine(o.engineSocket),
      lock: new Mutex(),
      defaultPoolRange: o.defaultPoolRange,
      vxlanPort: o.vxlanPort,
      log,
    };
    const networks = new NetworkTracker(c);
    const ipam = new DockerIpam(c, networks);
    const endpoints = new EndpointTracker(c, networks);
    const handlers = new Map<string, Handler>([
      ["Plugin.Activate", () => ({ Implements: wire.Implements })],
      ["NetworkDriver.GetCapabilities", () => ({ Scope: "local", ConnectivityScope: "global" })],
      ["NetworkDriver.CreateNetwork", (b) => networks.create(wire.parseCall(wire.CreateNetwork, b, "CreateNetwork"))],
      ["NetworkDriver.DeleteNetwork", (b) => networks.delete(wire.parseCall(wire.NetworkOnly, b, "DeleteNetwork").NetworkID)],
      ["NetworkDriver.CreateEndpoint", (b) => endpoints.create(wire.parseCall(wire.CreateEndpoint, b, "CreateEndpoint"))],
      ["NetworkDriver.DeleteEndpoint", (b) => endpoints.delete(wire.parseCall(wire.EndpointOnly, b, "DeleteEndpoint"))],
      ["NetworkDriver.EndpointOperInfo", (b) => endpoints.operInfo(wire.parseCall(wire.EndpointOnly, b, "EndpointOperInfo"))],
      ["NetworkDriver.Join", (b) => endpoints.join(wire.parseCall(wire.Join, b, "Join"))],
      ["NetworkDriver.Leave", (b) => endpoints.leave(wire.parseCall(wire.EndpointOnly, b, "Leave"))],
      ["NetworkDriver.ProgramExternalConnectivity", (b) => endpoints.program(wire.parseCall(wire.ExternalConnectivity, b, "ProgramExternalConnectivity"))],
      ["NetworkDriver.RevokeExternalConnectivity", (b) => endpoints.revoke(wire.parseCall(wire.EndpointOnly, b, "RevokeExternalConnectivity"))],
      ["NetworkDriver.DiscoverNew", () => ({})],
      ["NetworkDriver.DiscoverDelete", () => ({})],
      ["IpamDriver.GetCapabilities", () => ipam.capabilities()],
      ["IpamDriver.GetDefaultAddressSpaces", () => ipam.defaultAddressSpaces()],
      ["IpamDriver.RequestPool", (b) => ipam.requestPool(wire.parseCall(wire.RequestPool, b, "RequestPool"))],
      ["IpamDriver.ReleasePool", (b) => ipam.releasePool(wire.parseCall(wire.ReleasePool, b, "ReleasePool").PoolID)],
      ["IpamDriver.RequestAddress", (b) => ipam.requestAddress(wire.parseCall(wire.RequestAddress, b, "RequestAddress"))],
      ["IpamDriver.ReleaseAddress", (b) => {
        const r = wire.parseCall(wire.ReleaseAddress, b, "ReleaseAddress");
        return ipam.releaseAddress(r.PoolID, r.Address);
      }],
    ]);
    let server: Server;
    try {
      server = await servePlugin(o.socketPath, handlers, log);
    } catch (err) {
      log.warn({ socket: o.socketPath, err: (err as Error).message }, "not serving the docker plugin");
      return undefined;
    }
    networks.resume();
    endpoints.resume();
    const sync = o.sync ? new DockerSync(c, driverName, (networkId, id) => endpoints.delete({ NetworkID: networkId, EndpointID: id })) : undefined;
    if (sync) {
      o.onStateChange(() => sync.trigger());
      sync.start();
    }
    log.info({ socket: o.socketPath, driver: driverName, dockerNetns: o.dockerNetns }, "serving the docker network and ipam driver");
    return new DockerPlugin(c, server, sync);
  }

  async stop(): Promise<void> {
    this.sync?.stop();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
