// Which `ip -batch` runs are carried out over rtnetlink (exactly the line forms an endpoint's ADD and DEL write;
// anything else is left to `ip`), and how a run answers, against a stand-in for the kernel that answers each
// request from a script (the real kernel is in ip-batch.kernel.test.ts).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";

import { parseIpBatch, parseIpLine, runIpBatch } from "./ip-batch.js";
import { NotStarted, type NetlinkKernel, type NetlinkSocket } from "./kernel.js";
import { sequenceOf } from "./message.js";

const ADD_TENANT_SIDE =
  "link add ne0bd47d9e8a mtu 1450 type veth peer name eth0 address 02:02:c6:12:40:02 mtu 1450 netns /var/run/netns/nbpd89f-c2\nlink set ne0bd47d9e8a master nba08a0fcb up\n";
const ADD_CONTAINER_SIDE = "link set eth0 up\naddr add 198.18.64.2/20 dev eth0\naddr add fd00::2/64 dev eth0 nodad\nroute add default via 198.18.79.254 dev eth0\n";
const DEL = "link set ne0bd47d9e8a group 582028161\nlink del group 582028161\n";

describe("parseIpBatch", () => {
  it("takes an endpoint's ADD and DEL runs, in a named namespace or a namespace's file", () => {
    assert.deepEqual(parseIpBatch(["ip", "-n", "t1", "-force", "-batch", "-"], ADD_TENANT_SIDE), {
      netns: "/var/run/netns/t1",
      lines: [
        { op: "veth", name: "ne0bd47d9e8a", mtu: 1450, peer: { name: "eth0", address: "02:02:c6:12:40:02", mtu: 1450, netns: "/var/run/netns/nbpd89f-c2" } },
        { op: "set", name: "ne0bd47d9e8a", master: "nba08a0fcb", up: true },
      ],
    });
    assert.deepEqual(parseIpBatch(["nsenter", "--net=/proc/42/ns/net", "ip", "-force", "-batch", "-"], ADD_CONTAINER_SIDE), {
      netns: "/proc/42/ns/net",
      lines: [
        { op: "set", name: "eth0", up: true },
        { op: "addr", address: "198.18.64.2", prefixLength: 20, dev: "eth0", nodad: false },
        { op: "addr", address: "fd00::2", prefixLength: 64, dev: "eth0", nodad: true },
        { op: "route", gateway: "198.18.79.254", dev: "eth0" },
      ],
    });
    assert.deepEqual(parseIpBatch(["ip", "-force", "-batch", "-"], DEL), {
      netns: undefined,
      lines: [
        { op: "set", name: "ne0bd47d9e8a", group: 582028161 },
        { op: "del-group", group: 582028161 },
      ],
    });
  });

  it("leaves to `ip` other tools, other options, and a run with any line it does not know", () => {
    for (const argv of [["ip", "-n", "t1", "-batch", "-"], ["ip", "-json", "-force", "-batch", "-"], ["tc", "-force", "-batch", "-"], ["ip", "-n", "a/b", "-force", "-batch", "-"], ["nsenter", "--net=rel", "ip", "-force", "-batch", "-"]]) {
      assert.equal(parseIpBatch(argv, ADD_CONTAINER_SIDE), undefined, argv.join(" "));
    }
    assert.equal(parseIpBatch(["ip", "-force", "-batch", "-"], `${ADD_CONTAINER_SIDE}link set eth0 type bridge_slave hairpin on\n`), undefined);
    assert.equal(parseIpBatch(["ip", "-force", "-batch", "-"], ""), undefined);
    assert.equal(parseIpBatch(["ip", "-force", "-batch", "-"], undefined), undefined);
  });

  it("a known line with anything added or changed is left to `ip` (never read as something else)", () => {
    const known = [...ADD_TENANT_SIDE.split("\n"), ...ADD_CONTAINER_SIDE.split("\n"), ...DEL.split("\n")].filter((l) => l !== "");
    const junk = fc.constantFrom("type", "dev", "name", "peer", "up", "down", "via", "default", "netns", "42", "0", "x/y", '"q"', "proto", "metric", "1.2.3.4/33", "zz:zz");
    fc.assert(
      fc.property(fc.constantFrom(...known), fc.nat(), junk, (line, at, token) => {
        const tokens = line.split(" ");
        const i = at % (tokens.length + 1);
        const changed = [...tokens.slice(0, i), token, ...tokens.slice(i)].join(" ");
        const parsed = parseIpLine(changed);
        // Some insertions are still a valid line (another flag, an option's value): then it must say what `ip` reads.
        if (parsed !== undefined) assert.ok(stillMeans(changed, parsed), `${changed} read as ${JSON.stringify(parsed)}`);
      }),
    );
  });

  it("never throws on any line", () => {
    fc.assert(fc.property(fc.string(), (line) => void parseIpLine(line)));
    fc.assert(fc.property(fc.array(fc.constantFrom("link", "addr", "route", "add", "set", "del", "dev", "eth0", "up", "group", "1", "via", "default", "::1", "10.0.0.1/8", "type", "veth", "peer", "name")), (t) => void parseIpLine(t.join(" "))));
  });
});

/** Each value the parse kept is in the line where `ip` would read it. */
function stillMeans(line: string, parsed: NonNullable<ReturnType<typeof parseIpLine>>): boolean {
  const t = line.trim().split(/\s+/);
  const after = (key: string, value: string | number | undefined, from = 0): boolean => value === undefined || t[t.indexOf(key, from) + 1] === String(value);
  switch (parsed.op) {
    case "veth": {
      const peer = t.indexOf("peer");
      return t[2] === parsed.name && after("mtu", parsed.mtu) && after("name", parsed.peer.name, peer) && after("mtu", parsed.peer.mtu, peer);
    }
    case "set":
      return (t[2] === parsed.name || (t[2] === "dev" && t[3] === parsed.name)) && after("master", parsed.master) && after("group", parsed.group) && (parsed.up === undefined || t.includes(parsed.up ? "up" : "down"));
    case "del":
      return t.at(-1) === parsed.name;
    case "del-group":
      return t[3] === String(parsed.group);
    case "addr":
      return t[2]?.startsWith(`${parsed.address}/`) === true && t[4] === parsed.dev;
    case "route":
      return t[4] === parsed.gateway && t[6] === parsed.dev;
  }
}

/** A stand-in for the kernel: answers each request with the next scripted errno (0: done); records what it saw. */
function scripted(errnos: number[], opts: { failOpen?: boolean; failSocket?: boolean } = {}) {
  const seen = { requests: 0, opened: [] as string[], closed: [] as number[], socketClosed: 0, netns: [] as (string | undefined)[] };
  let next = 100;
  const kernel: NetlinkKernel = {
    socket(netns) {
      if (opts.failSocket) throw new Error("no such namespace");
      seen.netns.push(netns);
      const socket: NetlinkSocket = {
        talk(request) {
          seen.requests++;
          const errno = errnos.shift() ?? 0;
          // An NLMSG_ERROR answer carrying -errno, with the request's sequence number.
          const answer = new Uint8Array(36);
          const view = new DataView(answer.buffer);
          view.setUint32(0, 36, true);
          view.setUint16(4, 2, true);
          view.setUint32(8, sequenceOf(request), true);
          view.setInt32(16, -errno, true);
          return answer;
        },
        dump() {
          throw new Error("an ip run dumps nothing");
        },
        close: () => void seen.socketClosed++,
      };
      return socket;
    },
    openNetns(path) {
      if (opts.failOpen) throw new Error(`cannot open ${path}`);
      seen.opened.push(path);
      return next++;
    },
    closeFd: (fd) => void seen.closed.push(fd),
    strerror: (n) => ({ 17: "File exists", 19: "No such device" })[n] ?? `errno ${n}`,
  };
  return { kernel, seen };
}

describe("runIpBatch", () => {
  it("runs every line, says which failed and why, exit status 1 when one did (-force)", () => {
    const batch = parseIpBatch(["ip", "-n", "t1", "-force", "-batch", "-"], "link add a type veth peer name b netns c1\nlink del a\nlink del group 5\n")!;
    const { kernel, seen } = scripted([17, 19, 19]);
    assert.deepEqual(runIpBatch(batch, kernel), {
      code: 1,
      stderr: 'RTNETLINK answers: File exists\nCommand failed -:1\nCannot find device "a"\nCommand failed -:2\nRTNETLINK answers: No such device\nCommand failed -:3\n',
    });
    assert.equal(seen.requests, 3);
    assert.deepEqual(seen.netns, ["/var/run/netns/t1"]);
    assert.deepEqual(seen.opened, ["/var/run/netns/c1"]);
    assert.deepEqual(seen.closed, [100], "the peer's namespace file is closed");
    assert.equal(seen.socketClosed, 1);
  });

  it("a line naming a link that is not there fails before anything of it is asked", () => {
    const batch = parseIpBatch(["ip", "-force", "-batch", "-"], "addr add 10.0.0.2/24 dev eth0\nlink set x master br0 up\nroute add default via 10.0.0.1 dev eth0\n")!;
    // The lookups of eth0 and br0 find nothing; the route's lookup finds eth0 this time (an answer, errno 0).
    const { kernel, seen } = scripted([19, 19, 0, 0]);
    assert.deepEqual(runIpBatch(batch, kernel), {
      code: 1,
      stderr: 'Cannot find device "eth0"\nCommand failed -:1\nError: argument "br0" is wrong: Device does not exist\nCommand failed -:2\n',
    });
    assert.equal(seen.requests, 4);
  });

  it("nothing runs when a namespace cannot be opened (NotStarted: `ip` is started instead), and nothing is left open", () => {
    const batch = parseIpBatch(["ip", "-n", "t1", "-force", "-batch", "-"], "link add a type veth peer name b netns c1\n")!;
    const noPeer = scripted([], { failOpen: true });
    assert.throws(() => runIpBatch(batch, noPeer.kernel), NotStarted);
    assert.equal(noPeer.seen.requests, 0);
    const noNamespace = scripted([], { failSocket: true });
    assert.throws(() => runIpBatch(batch, noNamespace.kernel), NotStarted);
    assert.deepEqual(noNamespace.seen.closed, [100], "the peer's file opened first is closed");
  });
});
