import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { changedFlows, followFlows, formatHosts, type FlowRow, type FlowsReply } from "./flows.js";
import { fakeNetmaster, runNetctl, type FakeNetmaster } from "./testing/fakeNetmaster.js";

const row = (o: Partial<FlowRow> = {}): FlowRow => ({
  host: "h1", tenant: "t", verdict: "deny", rule: "pol:no-web", src: "198.18.1.2", dst: "198.18.1.3", proto: 6, dport: 8080, packets: 3, firstSeen: 0, lastSeen: Date.UTC(2026, 0, 1), ...o,
});
const reply: FlowsReply = {
  tenant: "t",
  records: [row(), row({ verdict: "allow", rule: null, dport: 53, proto: 17, packets: 1 })],
  hosts: [{ host: "h1", allowed: false, cap: 2048, entries: 2, evictedEntries: 0, evictedPackets: 0 }],
};

describe("netctl flows", () => {
  let fake: FakeNetmaster;
  const netctl = (...argv: string[]) => runNetctl(argv, { NETMASTER: fake.url });
  beforeEach(async () => {
    fake = await fakeNetmaster({ "GET /api/v1/flows?tenant=t": { json: reply }, "GET /api/v1/flows?tenant=t&denied=true": { json: { ...reply, records: [row()] } } });
  });
  afterEach(() => fake.close());

  it("prints each record with its rule (or the default), and per host what its table holds", async () => {
    const r = await netctl("flows", "-t", "t");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "HOST  VERDICT  RULE        PROTO  SOURCE      DESTINATION      PACKETS  LAST SEEN\n" +
        "h1    deny     pol:no-web  tcp    198.18.1.2  198.18.1.3:8080  3        2026-01-01T00:00:00.000Z\n" +
        "h1    allow    default     udp    198.18.1.2  198.18.1.3:53    1        2026-01-01T00:00:00.000Z\n" +
        "# h1: 2 of 2048 records held, 0 evicted; allowed attempts not recorded (netplugin --flow-records all)\n",
    );
  });

  it("--denied asks netmaster for denied ones only", async () => {
    const r = await netctl("flows", "-t", "t", "--denied", "--json");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).records, [row()]);
    assert.deepEqual(fake.calls(), ["GET /api/v1/flows?tenant=t&denied=true"]);
  });

  it("refuses a bad tenant or interval before any request", async () => {
    assert.match((await netctl("flows", "-t", "no/pe")).stderr, /Invalid --tenant "no\/pe"/);
    assert.match((await netctl("flows", "-t", "t", "-f", "--interval", "5")).stderr, /Invalid --interval "5"/);
    assert.deepEqual(fake.calls(), []);
  });
});

describe("netctl flows --follow", () => {
  it("prints only what is new or changed at each poll, the header once", async () => {
    const polls: FlowRow[][] = [[row()], [row()], [row({ packets: 4 }), row({ dport: 22 })]];
    const printed: string[] = [];
    const abort = new AbortController();
    let n = 0;
    await followFlows(
      async () => {
        const records = polls[n++]!;
        if (n === polls.length) abort.abort();
        return { tenant: "t", records, hosts: [] };
      },
      (s) => printed.push(s),
      { intervalMs: 1, signal: abort.signal },
    );
    assert.equal(printed.length, 2);
    assert.match(printed[0]!, /^HOST .*\nh1 .*:8080 +3 /);
    assert.doesNotMatch(printed[1]!, /HOST/);
    assert.match(printed[1]!, /:22 +3 .*\n.*:8080 +4 /);
  });

  it("says what a host's kernel counted without room for its flow, when it did", () => {
    const host = { ...reply.hosts[0]!, allowed: true, overflowPackets: 12 };
    assert.equal(formatHosts({ ...reply, hosts: [host] }, false), "# h1: 2 of 2048 records held, 0 evicted, 12 attempts counted without room for their flow\n");
  });

  it("changedFlows keeps what it has seen", () => {
    const seen = new Map<string, number>();
    assert.equal(changedFlows(seen, [row()]).length, 1);
    assert.equal(changedFlows(seen, [row()]).length, 0);
    assert.equal(changedFlows(seen, [row({ host: "h2" })]).length, 1);
  });
});
