import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { containerIdProblem, ifnameProblem, netnsPathProblem, networkNameProblem } from "./ids.js";
import { quoted } from "./wire.js";

/** Good values give no problem; each bad one a problem matching its pattern. */
function table(name: string, check: (s: string) => string | undefined, good: string[], bad: [string, RegExp][]): void {
  describe(name, () => {
    for (const value of good) it(`accepts ${quoted(value)}`, () => assert.equal(check(value), undefined));
    for (const [value, why] of bad) it(`refuses ${quoted(value)}`, () => assert.match(check(value) ?? "accepted", why));
  });
}

table(
  "containerIdProblem",
  containerIdProblem,
  ["3f6940ab5ab43bc522569d15b23f8c1bbde1d7678b080398506924fc01d72755", "k8s.io-ctrcni1", "a", "A_b.c-d", "c".repeat(240)],
  [
    ["-abc", /^is not a container id: want letters, digits/],
    ["_abc", /^is not a container id/],
    ["a/b", /^is not a container id/],
    ["a b", /^is not a container id/],
    ["é1", /^is not a container id/],
    ["a\n", /^is not a container id/],
    ["c".repeat(241), /^is 241 characters long: at most 240$/],
    ["c".repeat(300), /^is 300 characters long/],
  ],
);

table(
  "ifnameProblem",
  ifnameProblem,
  ["eth0", "net1", "a", "e".repeat(15), "eth0.100", "veth-x_y", "a@b"],
  [
    [".", /"\." and "\.\." are not allowed/],
    ["..", /"\." and "\.\." are not allowed/],
    ["e".repeat(16), /^is not an interface name: 16 bytes, at most 15$/],
    ["é".repeat(8), /16 bytes/],
    ["eth0:1", /holds '\/', ':' or whitespace/],
    ["a/b", /holds '\/', ':' or whitespace/],
    ["a b", /whitespace/],
    ["a\tb", /whitespace/],
    ["a\u00a0b", /whitespace/],
    ["à", /printable ASCII/],
    ["a#b", /printable ASCII without '#'/],
    ['"eth0', /printable ASCII/],
    ["'eth0", /printable ASCII/],
    ["a\u0000b", /printable ASCII/],
    ["a\u007fb", /printable ASCII/],
  ],
);

table(
  "netnsPathProblem",
  netnsPathProblem,
  ["/run/netns/netns-1", "/proc/4242/ns/net", "/var/run/netns/cni-5c4f-9a", "/" + "n".repeat(4094)],
  [
    ["netns-1", /^must be an absolute path$/],
    ["./x", /absolute/],
    ["/" + "n".repeat(4095), /^is 4096 bytes long: at most 4095$/],
    ["/run/netns/" + "é".repeat(2043), /^is 4097 bytes long/],
    ["/run/netns/a b", /without whitespace/],
    ["/run/netns/a\nb", /without whitespace/],
    ["/run/netns/a#b", /'#'/],
    ["/run/netns/'a", /printable ASCII/],
    ["/run/netns/ü", /printable ASCII/],
  ],
);

table(
  "networkNameProblem",
  networkNameProblem,
  ["blue", "podman", "k8s-pod-network", "a.b_c-d", "n".repeat(256)],
  [
    ["-blue", /^is not a network config name: want letters, digits/],
    ["blue net", /is not a network config name/],
    ["blüe", /is not a network config name/],
    ["n".repeat(257), /^is 257 characters long: at most 256$/],
  ],
);
