// netmaster's networks and groups as Docker networks of this host, as
// Contiv's netmaster made them: named "<name>" in tenant default and
// "<name>/<tenant>" elsewhere, driver and IPAM driver ours, the IPAM options
// naming what they map (tenant, network, group) and the subnet given, so that
// dockerd never checks a pool we cannot change against its routes. A network
// made here is removed here when its network or group goes. Docker networks
// that already map an object (made through Docker, or by hand) are left as
// they are. Level-triggered: each run compares the whole of both sides, after
// any change of netmaster's state and every 30 s.

import { existsSync } from "node:fs";
import type { EndpointGroup, Network } from "../../model/index.js";
import { objectKey, objectPrefix } from "../../contract/keys.js";
import type { DockerContext } from "./context.js";
import type { NetworkCreate } from "./engine.js";
import { formatIpv4Subnet, parseIpv4Subnet } from "../../lib/ipv4.js";

const RESYNC_MS = 30_000;
const LABEL = "io.contiv.netplugin";

interface Wanted {
  name: string;
  tenant: string;
  network: string;
  group: string;
}

function dockerName(name: string, tenant: string): string {
  return tenant === "default" ? name : `${name}/${tenant}`;
}

export class DockerSync {
  private timer: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly warned = new Set<string>();

  constructor(
    private readonly c: DockerContext,
    private readonly driver: string,
    /** DeleteEndpoint, for endpoints dockerd no longer has. */
    private readonly forgetEndpoint: (networkId: string, endpointId: string) => Promise<unknown>,
  ) {}

  start(): void {
    this.resync = setInterval(() => this.trigger(), RESYNC_MS);
    this.resync.unref();
    this.trigger();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.resync);
    clearTimeout(this.timer);
  }

  trigger(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.running) {
        this.again = true;
        return;
      }
      this.running = this.run()
        .catch((err: Error) => this.c.log.warn({ err: err.message }, "docker network sync failed"))
        .finally(() => {
          this.running = undefined;
          if (this.again) {
            this.again = false;
            this.trigger();
          }
        });
    }, 300);
    this.timer.unref();
  }

  private wanted(): Wanted[] {
    const out: Wanted[] = [];
    for (const [, n] of this.c.view.list<Network>(objectPrefix("network"))) {
      if (n.nwType === "infra") continue;
      out.push({ name: dockerName(n.networkName, n.tenantName), tenant: n.tenantName, network: n.networkName, group: "" });
    }
    for (const [, g] of this.c.view.list<EndpointGroup>(objectPrefix("endpointGroup"))) {
      out.push({ name: dockerName(g.groupName, g.tenantName), tenant: g.tenantName, network: g.networkName, group: g.groupName });
    }
    return out;
  }

  /**
   * Endpoints dockerd forgot while it could not reach us (it gives up on a plugin after about 30 s): their
   * sandbox is gone and their Docker network no longer lists them.
   */
  private async collectEndpoints(): Promise<void> {
    const stale = [...this.c.store.endpoints.values()].filter((e) => e.phase === "joined" && !existsSync(e.sandbox));
    if (stale.length === 0) return;
    const known = new Set<string>();
    for (const id of new Set(stale.map((e) => e.networkId))) {
      const n = await this.c.engine.network(id); // throws when dockerd does not answer: nothing is decided then
      for (const c of Object.values(n?.Containers ?? {})) known.add((c as { EndpointID?: string }).EndpointID ?? "");
    }
    for (const e of stale) {
      if (known.has(e.id)) continue;
      this.c.log.info({ endpoint: e.endpointId }, "docker endpoint dockerd no longer has: deleting it");
      await this.forgetEndpoint(e.networkId, e.id);
    }
  }

  private async run(): Promise<void> {
    if (!this.c.engine.present) return;
    await this.c.synced();
    const wanted = this.wanted();
    const mapped = (w: Wanted) =>
      [...this.c.store.networks.values()].some((r) => r.tenant === w.tenant && r.network === w.network && r.group === w.group);
    const exists = new Map((await this.c.engine.networks()).map((n) => [n.Name, n]));

    // A network Docker is creating gets its name in a moment: mapping it meanwhile would make a second one.
    if ([...this.c.store.networks.values()].some((r) => r.pending)) {
      this.again = true;
      return;
    }
    for (const w of wanted) {
      if (this.stopped) return;
      if (mapped(w)) continue;
      const same = exists.get(w.name);
      if (same) {
        if (same.Driver !== this.driver && !this.warned.has(w.name)) {
          this.warned.add(w.name);
          this.c.log.warn({ dockerNetwork: w.name, driver: same.Driver }, "a docker network of another driver has this name");
        }
        continue;
      }
      const net = this.c.view.get<Network>(objectKey("network", `${w.tenant}:${w.network}`));
      if (!net) continue;
      const config: NetworkCreate["IPAM"]["Config"] = [{ Subnet: formatIpv4Subnet(parseIpv4Subnet(net.subnet)), ...(net.gateway ? { Gateway: net.gateway } : {}) }];
      if (net.ipv6Subnet) config.push({ Subnet: net.ipv6Subnet, ...(net.ipv6Gateway ? { Gateway: net.ipv6Gateway } : {}) });
      const options = { tenant: w.tenant, network: w.network, ...(w.group ? { group: w.group } : {}) };
      // The IPAM pool maps by tag: a network or group deleted meanwhile fails the create, where its name would make a new one.
      const group = w.group ? this.c.view.get<EndpointGroup>(objectKey("endpointGroup", `${w.tenant}:${w.group}`)) : undefined;
      const tag = w.group ? group?.cfgdTag || `${w.group}.${w.tenant}` : net.cfgdTag || `${w.network}.${w.tenant}`;
      try {
        const id = await this.c.engine.createNetwork({
          Name: w.name,
          Driver: this.driver,
          CheckDuplicate: true,
          Attachable: true,
          EnableIPv6: net.ipv6Subnet !== "",
          IPAM: { Driver: this.driver, Config: config, Options: { "contiv-tag": tag } },
          Options: { ...options, encap: net.encap },
          Labels: { [LABEL]: "synced" },
        });
        const rec = this.c.store.networks.get(id);
        if (rec) {
          rec.synced = true;
          this.c.store.save();
        }
        this.c.log.info({ dockerNetwork: w.name, tenant: w.tenant, network: w.network, group: w.group }, "docker network made for netmaster's");
      } catch (err) {
        if (!this.warned.has(`create:${w.name}`)) {
          this.warned.add(`create:${w.name}`);
          this.c.log.warn({ dockerNetwork: w.name, err: (err as Error).message }, "cannot make docker network");
        }
      }
    }

    await this.collectEndpoints();

    const live = new Set(wanted.map((w) => `${w.tenant}:${w.network}:${w.group}`));
    for (const rec of [...this.c.store.networks.values()]) {
      if (!rec.synced || live.has(`${rec.tenant}:${rec.network}:${rec.group}`)) continue;
      try {
        await this.c.engine.removeNetwork(rec.id);
        this.c.log.info({ dockerNetwork: rec.id.slice(0, 12), tenant: rec.tenant, network: rec.network, group: rec.group }, "docker network removed with netmaster's");
      } catch (err) {
        this.c.log.warn({ dockerNetwork: rec.id.slice(0, 12), err: (err as Error).message }, "cannot remove docker network");
      }
    }
  }
}
