import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { normalizeArgv } from "./argv.js";
import { netctlSpec } from "./run.js";

describe("normalizeArgv", () => {
  const spec = netctlSpec();
  const cases: Array<{ name: string; argv: string[]; want: string[] }> = [
    {
      name: "multi-letter Go short flags become long flags",
      argv: ["net", "create", "-s6", "2001:db8::/64", "-g6", "2001:db8::1", "-s", "10.1.1.0/24", "n1"],
      want: ["net", "create", "--subnetv6=2001:db8::/64", "--gatewayv6=2001:db8::1", "--subnet=10.1.1.0/24", "n1"],
    },
    {
      name: "single-dash long names and double-dash short names",
      argv: ["network", "ls", "-tenant", "t1", "--t", "t2", "-json"],
      want: ["network", "ls", "--tenant=t1", "--tenant=t2", "--json"],
    },
    {
      name: "name=value forms keep their value",
      argv: ["group", "create", "-tag=blue", "--policy=p1", "net", "g"],
      want: ["group", "create", "--epg-tag=blue", "--policy=p1", "net", "g"],
    },
    {
      name: "aliases are per command: -tag is nw-tag for networks, -ip is preferred-ip for services",
      argv: ["service", "create", "-ip", "10.1.1.3", "s1"],
      want: ["service", "create", "--preferred-ip=10.1.1.3", "s1"],
    },
    {
      name: "bool flags with Go's =true/=false",
      argv: ["tenant", "ls", "-json=false", "-q=true"],
      want: ["tenant", "ls", "--quiet"],
    },
    {
      name: "the value after a flag is taken even when it starts with a dash",
      argv: ["netprofile", "create", "-d", "-1", "p"],
      want: ["netprofile", "create", "--dscp=-1", "p"],
    },
    {
      name: "global flags are known before and after the command",
      argv: ["-netmaster", "http://x:1", "tenant", "ls", "-insecure"],
      want: ["--netmaster=http://x:1", "tenant", "ls", "--insecure"],
    },
    {
      name: "unknown and combined flags are left to commander",
      argv: ["policy", "ls", "-aj", "--bogus", "-t1"],
      want: ["policy", "ls", "-aj", "--bogus", "-t1"],
    },
    {
      name: "a positional argument that names a command is not a command below a leaf",
      argv: ["tenant", "create", "ls"],
      want: ["tenant", "create", "ls"],
    },
    {
      name: "-- ends flag rewriting",
      argv: ["tenant", "create", "--", "-t"],
      want: ["tenant", "create", "--", "-t"],
    },
    {
      name: "a value flag at the end is left for commander to report",
      argv: ["net", "create", "n", "-s"],
      want: ["net", "create", "n", "--subnet"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(normalizeArgv(c.argv, spec), c.want));
  }
});
