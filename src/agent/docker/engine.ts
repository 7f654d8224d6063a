// A few calls of the Docker Engine API (dockerd's own socket, not the plugin
// socket): the name of a network, creating and removing the networks that
// stand for netmaster's networks and groups, and which container holds an
// endpoint (its name and labels).

import { request } from "node:http";
import { existsSync } from "node:fs";
import { UpstreamError } from "../../lib/errors.js";

export interface EngineNetwork {
  Id: string;
  Name: string;
  Driver: string;
  Containers?: Record<string, unknown>;
  IPAM?: { Driver?: string; Options?: Record<string, string> | null };
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

/** What the container list says of a container (GET /containers/json). */
export interface EngineContainer {
  Id: string;
  /** "/web": Docker's names start with a slash. */
  Names?: string[];
  Labels?: Record<string, string> | null;
  NetworkSettings?: { Networks?: Record<string, { EndpointID?: string }> };
}

export interface NetworkCreate {
  Name: string;
  Driver: string;
  CheckDuplicate: boolean;
  Attachable: boolean;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Config: { Subnet: string; Gateway?: string }[]; Options: Record<string, string> };
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

export class DockerEngine {
  constructor(readonly socketPath: string) {}

  /** dockerd answers on its socket. */
  get present(): boolean {
    return existsSync(this.socketPath);
  }

  private call<T>(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<{ status: number; body: T | undefined; text: string }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        { socketPath: this.socketPath, path, method, timeout: timeoutMs, headers: payload === undefined ? {} : { "content-type": "application/json" } },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => (text += d));
          res.on("end", () => {
            let parsed: T | undefined;
            try {
              parsed = text ? (JSON.parse(text) as T) : undefined;
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, text });
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on("error", (err) => reject(new UpstreamError(`Cannot reach dockerd at ${this.socketPath}: ${err.message}`, { cause: err })));
      req.end(payload);
    });
  }

  private static message(r: { status: number; text: string }): string {
    try {
      return (JSON.parse(r.text) as { message?: string }).message ?? r.text;
    } catch {
      return r.text || `status ${r.status}`;
    }
  }

  /** A network by id or name; undefined when dockerd does not know it. */
  async network(idOrName: string): Promise<EngineNetwork | undefined> {
    const r = await this.call<EngineNetwork>("GET", `/networks/${encodeURIComponent(idOrName)}`);
    if (r.status === 404) return undefined;
    if (r.status !== 200 || !r.body) throw new UpstreamError(`dockerd: ${DockerEngine.message(r)}`);
    return r.body;
  }

  async networks(): Promise<EngineNetwork[]> {
    const r = await this.call<EngineNetwork[]>("GET", "/networks");
    if (r.status !== 200 || !r.body) throw new UpstreamError(`dockerd: ${DockerEngine.message(r)}`);
    return r.body;
  }

  /**
   * The container that holds a Docker endpoint, from the container list (dockerd serves it without taking the
   * containers' locks, so it is safe to ask while a container starts); undefined while none shows it yet.
   */
  async containerOf(endpointId: string, networkId: string): Promise<EngineContainer | undefined> {
    const filters = encodeURIComponent(JSON.stringify({ network: [networkId] }));
    const r = await this.call<EngineContainer[]>("GET", `/containers/json?all=true&filters=${filters}`);
    if (r.status !== 200 || !r.body) throw new UpstreamError(`dockerd: ${DockerEngine.message(r)}`);
    return r.body.find((c) => Object.values(c.NetworkSettings?.Networks ?? {}).some((n) => n.EndpointID === endpointId));
  }

  /** Creates a network; dockerd calls our plugin on the way (mind the deadlock: never hold a lock the plugin needs). */
  async createNetwork(spec: NetworkCreate): Promise<string> {
    const r = await this.call<{ Id: string }>("POST", "/networks/create", spec, 120_000);
    if (r.status !== 201 || !r.body) throw new UpstreamError(`Cannot create Docker network ${spec.Name}: ${DockerEngine.message(r)}`);
    return r.body.Id;
  }

  /** Idempotent: a network dockerd does not know counts as removed. */
  async removeNetwork(id: string): Promise<void> {
    const r = await this.call("DELETE", `/networks/${encodeURIComponent(id)}`, undefined, 120_000);
    if (r.status !== 204 && r.status !== 200 && r.status !== 404) throw new UpstreamError(`Cannot remove Docker network ${id}: ${DockerEngine.message(r)}`);
  }
}
