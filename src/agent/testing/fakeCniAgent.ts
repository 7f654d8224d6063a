// A stand-in for the agent's CNI side, for tests only: the real CniHandler, so all of the parsing and
// checking is the agent's own, with fakes of what lies behind it. The fake netmaster checks every
// request with netmaster's own EndpointRequest schema, so a call the agent lets through that netmaster
// would refuse shows up as code 104. Plumbing only records the attachment; the AttachmentStore is the
// real one, writing its state file in a fresh temp dir. serve() answers on a unix socket as the agent
// does, for the real CNI executable.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";

import { ConflictError, ValidationError } from "../../lib/errors.js";
import { endpointId, EndpointRequest, type EndpointReply } from "../../contract/api.js";
import type { EndpointState } from "../../contract/records.js";
import { AttachmentStore, type Attachment } from "../attachments.js";
import { CniHandler } from "../cni-handler.js";
import type { EndpointPlumber } from "../endpoints.js";
import type { CreateEndpointRequest, MasterClient } from "../master-client.js";
import type { Reconciler, SyncResult } from "../pipeline/reconciler.js";

export class FakeMaster {
  /** Every createEndpoint request, accepted or not. */
  readonly requests: CreateEndpointRequest[] = [];
  /** Endpoints created and not deleted, by id. */
  readonly endpoints = new Map<string, EndpointState>();
  private created = 0;

  async createEndpoint(request: CreateEndpointRequest): Promise<EndpointReply> {
    this.requests.push(request);
    const parsed = EndpointRequest.safeParse(request);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ValidationError(`${issue.path.join(".")}: ${issue.message}`);
    }
    const req = parsed.data;
    const id = endpointId(req.networkName, req.tenantName, req.containerID);
    if (this.endpoints.has(id)) throw new ConflictError(`endpoint ${id} exists`);
    const n = this.created++ % 250;
    const endpoint: EndpointState = {
      endpointID: id,
      tenantName: req.tenantName,
      networkName: req.networkName,
      groupName: req.groupName,
      containerID: req.containerID,
      containerName: req.containerName,
      ipAddress: req.ipAddress || `198.18.0.${n + 1}`,
      ipv6Address: "",
      macAddress: req.macAddress || `02:02:c6:12:00:${(n + 1).toString(16).padStart(2, "0")}`,
      homingHost: req.host,
      intfName: "",
      vtepIP: "",
      labels: req.labels,
      requestedIp: req.ipAddress !== "",
    };
    this.endpoints.set(id, endpoint);
    return {
      endpoint,
      network: { subnetLen: 24, gateway: "198.18.0.254", ipv6SubnetLen: 0, ipv6Gateway: "", pktTag: 1, extPktTag: 1, encap: "vxlan" },
      groupId: 0,
      revision: 0,
    };
  }

  async deleteEndpoint(id: string): Promise<void> {
    this.endpoints.delete(id);
  }

  async reportOper(): Promise<EndpointState | undefined> {
    return undefined;
  }
}

export interface FakeCniAgent {
  handler: CniHandler;
  master: FakeMaster;
  attachments: AttachmentStore;
  /** The attachment store's file. */
  stateFile: string;
  /** The state file's text, "" while it does not exist. */
  stateText(): string;
  /** Forget every attachment and endpoint, as a fresh agent would start. */
  reset(): void;
  /** Serve the handler on a unix socket in the stand-in's dir, as the agent serves POST /cni/v1/<command>. */
  serve(): Promise<string>;
  close(): Promise<void>;
}

export function startFakeCniAgent(): FakeCniAgent {
  const dir = mkdtempSync(join(tmpdir(), "np-cni-agent-"));
  const stateFile = join(dir, "attachments.json");
  const master = new FakeMaster();
  let attachments = new AttachmentStore(dir);
  const plumber = {
    attach: async (_ep: EndpointState, a: Attachment) => attachments.put(a),
    detach: async (a: Attachment) => void attachments.delete(a.containerId, a.ifname),
  };
  const idle: SyncResult = { compiled: { desired: { tenants: [] }, failures: [] }, errors: [], mark: { revision: 0, epoch: "" } } as unknown as SyncResult;
  const reconciler = { run: async () => idle };
  const make = (): CniHandler =>
    new CniHandler({
      host: "h1",
      master: master as unknown as MasterClient,
      attachments,
      reconciler: reconciler as unknown as Reconciler,
      plumber: plumber as unknown as EndpointPlumber,
      ready: () => true,
      vxlanPort: 4789,
      claim: async () => () => undefined,
      log: pino({ level: "silent" }),
    });
  let server: http.Server | undefined;

  const agent: FakeCniAgent = {
    handler: make(),
    master,
    get attachments() {
      return attachments;
    },
    stateFile,
    stateText: () => {
      try {
        return readFileSync(stateFile, "utf8");
      } catch {
        return "";
      }
    },
    reset: () => {
      rmSync(stateFile, { force: true });
      master.endpoints.clear();
      master.requests.length = 0;
      attachments = new AttachmentStore(dir);
      agent.handler = make();
    },
    serve: async () => {
      const socket = join(dir, "agent.sock");
      server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          } catch {
            body = undefined;
          }
          void agent.handler.handle(body).then((answer) => {
            res.writeHead(200, { "Content-Type": "application/json" });
            res.end(JSON.stringify(answer));
          });
        });
      });
      await new Promise<void>((resolve, reject) => {
        server!.once("error", reject);
        server!.listen(socket, () => resolve());
      });
      return socket;
    },
    close: async () => {
      if (server !== undefined) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server!.close(() => resolve()));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return agent;
}
