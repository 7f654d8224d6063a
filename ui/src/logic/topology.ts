// The topology graph: hosts, tenants, networks, groups, endpoints and services as nodes; what holds what,
// and where each endpoint lives, as edges. Pure: the Topology view fetches the API's lists and network
// inspects every few seconds, builds this, lays it out with dagre and draws it.

export type NodeKind = "host" | "tenant" | "network" | "group" | "endpoint" | "service";

export interface TopoNode {
  id: string;
  kind: NodeKind;
  label: string;
  /** A second line: an address, a subnet, a VIP. */
  detail: string;
}

export interface TopoEdge {
  from: string;
  to: string;
  /** "holds" (tenant→network→group→endpoint), "on" (endpoint→host), "serves" (service→network). */
  kind: "holds" | "on" | "serves";
}

export interface TopoGraph {
  nodes: TopoNode[];
  edges: TopoEdge[];
}

/** An endpoint as network inspect lists it (Oper.endpoints), Contiv's field names. */
export interface EndpointView {
  endpointID: string;
  containerName?: string;
  containerID?: string;
  homingHost: string;
  ipAddress: string[];
  /** "group:tenant", or "" when the endpoint is in no group. */
  endpointGroupKey: string;
  /** "network.tenant" */
  network: string;
}

export interface TopologyInput {
  hosts: { name: string }[];
  tenants: { tenantName: string }[];
  networks: { tenantName: string; networkName: string; subnet?: string }[];
  groups: { tenantName: string; groupName: string; networkName: string }[];
  services: { tenantName: string; serviceName: string; networkName: string; ipAddress?: string }[];
  endpoints: EndpointView[];
}

const id = {
  host: (h: string) => `host/${h}`,
  tenant: (t: string) => `tenant/${t}`,
  network: (t: string, n: string) => `network/${t}/${n}`,
  group: (t: string, g: string) => `group/${t}/${g}`,
  endpoint: (e: string) => `endpoint/${e}`,
  service: (t: string, s: string) => `service/${t}/${s}`,
};

/** The endpoint's shown name: its container's name, else the start of its id. */
export function endpointLabel(ep: EndpointView): string {
  return ep.containerName || ep.containerID?.slice(0, 12) || ep.endpointID.slice(0, 12);
}

export function buildTopology(input: TopologyInput): TopoGraph {
  const nodes = new Map<string, TopoNode>();
  const edges: TopoEdge[] = [];
  const node = (n: TopoNode) => {
    if (!nodes.has(n.id)) nodes.set(n.id, n);
  };
  const edge = (from: string, to: string, kind: TopoEdge["kind"]) => {
    if (nodes.has(from) && nodes.has(to)) edges.push({ from, to, kind });
  };

  for (const h of input.hosts) node({ id: id.host(h.name), kind: "host", label: h.name, detail: "host" });
  for (const t of input.tenants) node({ id: id.tenant(t.tenantName), kind: "tenant", label: t.tenantName, detail: "tenant" });
  for (const n of input.networks) {
    node({ id: id.network(n.tenantName, n.networkName), kind: "network", label: n.networkName, detail: n.subnet ?? "" });
    edge(id.tenant(n.tenantName), id.network(n.tenantName, n.networkName), "holds");
  }
  for (const g of input.groups) {
    node({ id: id.group(g.tenantName, g.groupName), kind: "group", label: g.groupName, detail: "group" });
    edge(id.network(g.tenantName, g.networkName), id.group(g.tenantName, g.groupName), "holds");
  }
  for (const s of input.services) {
    node({ id: id.service(s.tenantName, s.serviceName), kind: "service", label: s.serviceName, detail: s.ipAddress ? `VIP ${s.ipAddress}` : "service" });
    edge(id.service(s.tenantName, s.serviceName), id.network(s.tenantName, s.networkName), "serves");
  }
  for (const ep of input.endpoints) {
    // A host an endpoint is homed on but that never registered (its agent gone) is still shown.
    if (ep.homingHost) node({ id: id.host(ep.homingHost), kind: "host", label: ep.homingHost, detail: "host" });
    node({ id: id.endpoint(ep.endpointID), kind: "endpoint", label: endpointLabel(ep), detail: ep.ipAddress.filter((a) => a).join(" ") });
    const dot = ep.network.lastIndexOf(".");
    const [net, tenant] = dot < 0 ? [ep.network, ""] : [ep.network.slice(0, dot), ep.network.slice(dot + 1)];
    const group = ep.endpointGroupKey ? ep.endpointGroupKey.slice(0, ep.endpointGroupKey.lastIndexOf(":")) : "";
    const holder = group && nodes.has(id.group(tenant, group)) ? id.group(tenant, group) : id.network(tenant, net);
    edge(holder, id.endpoint(ep.endpointID), "holds");
    if (ep.homingHost) edge(id.endpoint(ep.endpointID), id.host(ep.homingHost), "on");
  }
  return { nodes: [...nodes.values()], edges };
}
