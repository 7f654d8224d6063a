// Prometheus metrics of the agent (its local socket, and the TCP port of --metrics-listen inside its host's
// namespace) and of netmaster, after real CNI calls: what succeeded and what failed is counted apart.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cluster, unixRequest } from "../../src/cluster/index.js";
import { run } from "../../src/lib/process.js";
import { Api } from "../harness/api.js";
import { attach } from "../harness/cluster.js";
import { metricValue, samples } from "../harness/metrics.js";
import { TestNetns } from "../harness/netns.js";



describe("metrics", () => {
  let cluster: Cluster;
  let api: Api;
  const made: TestNetns[] = [];

  before(async () => {
    cluster = await Cluster.up({ hosts: 1, logLevel: "warn", agentArgs: ["--metrics-listen", "127.0.0.1:9464"] });
    api = new Api(cluster.apiBase);
    await api.create("/api/v1/networks/default:net/", { tenantName: "default", networkName: "net", encap: "vxlan", subnet: "198.18.150.0/24", gateway: "198.18.150.254" });
  });
  after(async () => {
    for (const ns of made) await ns.destroy();
    await cluster?.down();
  });

  test("the agent counts CNI calls by command and result, its syncs, attachments and state revision", async () => {
    await attach(cluster, made, 1, "m1", { tenant: "default", network: "net" });
    const bad = await cluster.addContainer(1, "m2", { tenant: "default", network: "nowhere" });
    made.push(new TestNetns(bad.namespace));
    assert.notEqual(bad.result.code, 0);

    const host = cluster.hosts[0]!;
    const local = (await unixRequest(host.socket, "GET", "/metrics")).text;
    assert.equal(metricValue(local, "netplugin_cni_request_duration_seconds_count", { command: "ADD", result: "ok" }), 1, local);
    assert.equal(metricValue(local, "netplugin_cni_request_duration_seconds_count", { command: "ADD", result: "error" }), 1);
    assert.equal(metricValue(local, "netplugin_attachments"), 1);
    assert.ok((metricValue(local, "netplugin_state_revision") ?? 0) > 0);
    assert.ok((metricValue(local, "netplugin_datapath_sync_duration_seconds_count", { kind: "incremental" }) ?? 0) >= 1);
    assert.ok((metricValue(local, "netplugin_datapath_changes_total") ?? 0) > 0);
    assert.ok((metricValue(local, "netplugin_state_snapshots_total") ?? 0) >= 1, "a snapshot at start");
    assert.ok((metricValue(local, "process_resident_memory_bytes") ?? 0) > 0, "and the process's own");

    // The same from the TCP port, inside the host's namespace where the agent runs.
    const fetchIn = `fetch("http://127.0.0.1:9464/metrics").then((r) => r.text()).then((t) => process.stdout.write(t))`;
    const remote = await run(["ip", "netns", "exec", host.namespace, process.execPath, "-e", fetchIn]);
    assert.equal(remote.code, 0, remote.stderr);
    assert.equal(metricValue(remote.stdout, "netplugin_cni_request_duration_seconds_count", { command: "ADD", result: "ok" }), 1);
  });

  test("netmaster times API calls by route and status, and counts state streams", async () => {
    assert.equal((await api.get("/api/v1/networks/default:nowhere/")).status, 404);
    const text = (await unixRequest(cluster.netmasterSocket, "GET", "/metrics")).text;
    const routes = samples(text, "netmaster_http_request_duration_seconds_count").map((s) => `${s.labels.method} ${s.labels.route} ${s.labels.status}`);
    assert.ok(routes.some((r) => /^POST \/api\/v1\/agent\/endpoints\/? 200$/.test(r)), routes.join("\n"));
    assert.ok(routes.some((r) => /^GET \S+:key\S* 404$/.test(r)), routes.join("\n"));
    assert.equal(metricValue(text, "netmaster_state_streams"), 1, "the agent follows the stream");
    assert.equal(metricValue(text, "netmaster_leader"), 1);
    assert.ok((metricValue(text, "netmaster_state_stream_snapshots_total") ?? 0) >= 1);
  });
});
