// Topology: every host, tenant, network, group, endpoint and service, and which host each endpoint lives
// on, polled every 2 s. The graph model is logic/topology.ts; dagre lays it out left to right (tenants,
// networks, groups, endpoints, then hosts), and it is drawn as SVG so each node is text a test can find.

import dagre from "@dagrejs/dagre";
import { get } from "../api.js";
import { buildTopology, type EndpointView, type TopoGraph, type TopologyInput } from "../logic/topology.js";
import { usePoll } from "../poll.js";
import { ErrorText } from "../errorText.js";

const NODE_W = 170;
const NODE_H = 44;

async function loadTopology(): Promise<TopoGraph> {
  const [tenants, networks, groups, services, hosts] = await Promise.all([
    get<TopologyInput["tenants"]>("/api/v1/tenants/"),
    get<TopologyInput["networks"]>("/api/v1/networks/"),
    get<TopologyInput["groups"]>("/api/v1/endpointGroups/"),
    get<TopologyInput["services"]>("/api/v1/serviceLBs/"),
    // Admins only: an ops user sees the hosts its endpoints live on, from the endpoints themselves.
    get<{ name: string }[]>("/api/v1/agent/hosts/").catch(() => [] as { name: string }[]),
  ]);
  const inspects = await Promise.all(
    networks.map((n) => get<{ Oper?: { endpoints?: EndpointView[] } }>(`/api/v1/inspect/networks/${encodeURIComponent(`${n.tenantName}:${n.networkName}`)}/`).catch(() => ({ Oper: { endpoints: [] } }))),
  );
  const endpoints = inspects.flatMap((i) => i.Oper?.endpoints ?? []);
  return buildTopology({ tenants, networks, groups, services, hosts, endpoints });
}

interface Placed {
  graph: TopoGraph;
  width: number;
  height: number;
  at: Map<string, { x: number; y: number }>;
  paths: { d: string; kind: string }[];
}

function place(graph: TopoGraph): Placed {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 14, ranksep: 70, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of graph.nodes) g.setNode(n.id, { width: NODE_W, height: NODE_H });
  for (const e of graph.edges) g.setEdge(e.from, e.to);
  dagre.layout(g);
  const at = new Map<string, { x: number; y: number }>();
  for (const n of graph.nodes) {
    const p = g.node(n.id);
    at.set(n.id, { x: p.x, y: p.y });
  }
  const paths = graph.edges.map((e) => {
    const pts: { x: number; y: number }[] = g.edge(e.from, e.to)?.points ?? [];
    return { d: pts.map((p, i) => `${i === 0 ? "M" : "L"}${p.x},${p.y}`).join(" "), kind: e.kind };
  });
  const size = g.graph();
  return { graph, at, paths, width: (size.width ?? 400) + 20, height: (size.height ?? 200) + 20 };
}

export function Topology() {
  const { data, error } = usePoll(loadTopology, []);
  const placed = data ? place(data) : undefined;
  return (
    <section class="view" id="topology">
      <h2>Topology</h2>
      <p class="legend">
        {(["tenant", "network", "group", "service", "endpoint", "host"] as const).map((k) => (
          <span class={`chip ${k}`}>{k}</span>
        ))}
        <span class="muted">refreshed every 2 s</span>
      </p>
      <ErrorText text={error} />
      {placed && placed.graph.nodes.length === 0 && <p>No objects yet.</p>}
      {placed && (
        <div class="graph">
          <svg width={placed.width} height={placed.height} viewBox={`0 0 ${placed.width} ${placed.height}`}>
            {placed.paths.map((p) => (
              <path d={p.d} class={`edge ${p.kind}`} />
            ))}
            {placed.graph.nodes.map((n) => {
              const p = placed.at.get(n.id)!;
              return (
                <g class={`node ${n.kind}`} data-id={n.id} transform={`translate(${p.x - NODE_W / 2},${p.y - NODE_H / 2})`}>
                  <rect width={NODE_W} height={NODE_H} rx={6} />
                  <text x={8} y={18} class="label">
                    {n.label}
                  </text>
                  <text x={8} y={34} class="detail">
                    {n.detail}
                  </text>
                </g>
              );
            })}
          </svg>
        </div>
      )}
    </section>
  );
}
