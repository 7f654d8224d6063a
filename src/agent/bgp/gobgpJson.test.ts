import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { UpstreamError } from "../../lib/errors.js";
import { parseNeighbors, parseRib } from "./gobgpJson.js";

// Captured from gobgp 3.10 (Debian 12) peering with FRR 8.4.
const RIB_V4 =
  '{"198.18.60.5/32":[{"nlri":{"prefix":"198.18.60.5/32"},"age":1795830798,"best":true,"attrs":[{"type":1,"value":2},{"type":3,"nexthop":"198.18.50.11"}],"stale":false}],' +
  '"198.18.61.7/32":[{"nlri":{"prefix":"198.18.61.7/32"},"age":1795830737,"best":true,"attrs":[{"type":1,"value":2},{"type":2,"as_paths":[{"segment_type":2,"num":2,"asns":[65000,65002]}]},{"type":3,"nexthop":"198.18.50.12"}],"stale":false,"source-id":"198.18.50.1","neighbor-ip":"198.18.50.1"}]}';
const RIB_V6 =
  '{"fd00:60::5/128":[{"nlri":{"prefix":"fd00:60::5/128"},"age":1795830737,"best":true,"attrs":[{"type":1,"value":2},{"type":2,"as_paths":[{"segment_type":2,"num":2,"asns":[65000,65001]}]},{"type":14,"nexthop":"fe80::5401:77ff:feb7:530a","afi":2,"safi":1,"value":[{"prefix":"fd00:60::5/128"}]}],"stale":false,"source-id":"198.18.50.1","neighbor-ip":"198.18.50.1"}]}';
const NEIGHBORS =
  '[{"apply_policy":{"export_policy":{"direction":2},"import_policy":{"direction":1}},"conf":{"local_asn":65002,"neighbor_address":"198.18.50.1","peer_asn":65000,"type":1},"state":{"messages":{"received":{"update":3,"open":1,"keepalive":3,"total":7}},"neighbor_address":"198.18.50.1","peer_asn":65000,"type":1,"queues":{},"session_state":6,"router_id":"198.18.50.1"},' +
  '"afi_safis":[{"config":{"family":{"afi":1,"safi":1},"enabled":true},"state":{"family":{"afi":1,"safi":1},"enabled":true,"received":2,"accepted":1}},{"config":{"family":{"afi":2,"safi":1},"enabled":true},"state":{"family":{"afi":2,"safi":1},"enabled":true,"received":1,"accepted":1}}]}]';

describe("parseRib", () => {
  it("tells our paths from learned ones and finds next hops", () => {
    assert.deepEqual(parseRib(RIB_V4), [
      { prefix: "198.18.60.5/32", nextHop: "198.18.50.11", best: true, learned: false },
      { prefix: "198.18.61.7/32", nextHop: "198.18.50.12", best: true, learned: true, neighbor: "198.18.50.1" },
    ]);
  });
  it("reads the IPv6 next hop from MP_REACH_NLRI", () => {
    assert.deepEqual(parseRib(RIB_V6), [
      { prefix: "fd00:60::5/128", nextHop: "fe80::5401:77ff:feb7:530a", best: true, learned: true, neighbor: "198.18.50.1" },
    ]);
  });
  for (const empty of ["", "{}", "null", "\n"]) {
    it(`reads an empty RIB ${JSON.stringify(empty)}`, () => assert.deepEqual(parseRib(empty), []));
  }
  it("treats a <nil> source as ours", () => {
    const text = '{"10.0.0.1/32":[{"nlri":{"prefix":"10.0.0.1/32"},"attrs":[{"type":3,"nexthop":"10.0.0.9"}],"neighbor-ip":"<nil>"}]}';
    assert.equal(parseRib(text)[0]?.learned, false);
  });
  for (const bad of ["not json", "[1,2]", '{"10.0.0.1/32":[{"attrs":[]}]}']) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => parseRib(bad), UpstreamError));
  }
});

describe("parseNeighbors", () => {
  it("reads session and admin state in Contiv's spelling", () => {
    assert.deepEqual(parseNeighbors(NEIGHBORS), [
      { address: "198.18.50.1", peerAs: 65000, sessionState: "established", adminState: "up", received: 3, accepted: 2 },
    ]);
  });
  it("takes omitted enums as their zero value", () => {
    const [n] = parseNeighbors('[{"conf":{"neighbor_address":"10.0.0.1","peer_asn":1},"state":{}}]');
    assert.equal(n?.sessionState, "unknown");
    assert.equal(n?.adminState, "up");
  });
  it("accepts enum names", () => {
    const [n] = parseNeighbors('[{"state":{"neighbor_address":"10.0.0.1","session_state":"ACTIVE","admin_state":"DOWN"}}]');
    assert.equal(n?.sessionState, "active");
    assert.equal(n?.adminState, "down");
  });
  it("reads no neighbors", () => {
    assert.deepEqual(parseNeighbors("[]"), []);
    assert.deepEqual(parseNeighbors("null"), []);
  });
  it("rejects a wrong shape", () => assert.throws(() => parseNeighbors('{"a":1}'), UpstreamError));
});
