// Hosts' own endpoints on infra networks (reference contiv.md §3.11): every
// agent asks netmaster for an address for its host on each infra network, so
// the host can talk to containers on the overlay. Level-triggered from the
// state mirror; creation is idempotent at netmaster.

import type { Logger } from "pino";
import type { Network } from "../model/index.js";
import { endpointKey, objectPrefix } from "../contract/keys.js";
import { endpointId } from "../contract/api.js";
import type { EndpointState } from "../contract/records.js";
import { hostEndpointContainer, type StateView } from "./pipeline/compile.js";
import type { MasterClient } from "./master-client.js";

export class InfraEndpoints {
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly view: StateView,
    private readonly master: MasterClient,
    private readonly host: string,
    private readonly pending: Map<string, EndpointState>,
    private readonly onCreated: () => void,
    private readonly log: Logger,
  ) {}

  /** Asks for the endpoints this host lacks on infra networks; failures are retried on the next call. */
  ensure(): void {
    const container = hostEndpointContainer(this.host);
    for (const [, net] of this.view.list<Network>(objectPrefix("network"))) {
      if (net.nwType !== "infra") continue;
      const id = endpointId(net.networkName, net.tenantName, container);
      if (this.view.get(endpointKey(id)) || this.pending.has(id) || this.inFlight.has(id)) continue;
      this.inFlight.add(id);
      this.master
        .createEndpoint({
          tenantName: net.tenantName,
          networkName: net.networkName,
          groupName: "",
          containerID: container,
          containerName: this.host,
          host: this.host,
          ipAddress: "",
          ipv6Address: "",
          macAddress: "",
          labels: {},
        })
        .then((reply) => {
          this.pending.set(id, reply.endpoint);
          this.log.info({ network: net.key, ip: reply.endpoint.ipAddress }, "host endpoint on infra network");
          this.onCreated();
        })
        .catch((err: Error) => this.log.warn({ network: net.key, err: err.message }, "cannot create host endpoint"))
        .finally(() => this.inFlight.delete(id));
    }
  }
}
