import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { parseCniArgs, type CniArgs } from "./args.js";
import { CniError } from "./errors.js";

describe("parseCniArgs", () => {
  const good: { name: string; raw: string; want: Partial<CniArgs> }[] = [
    { name: "empty (ctr run --cni)", raw: "", want: { ignoreUnknown: false, ips: [], raw: {} } },
    {
      name: "podman plain",
      raw: "IgnoreUnknown=1;K8S_POD_NAME=web1",
      want: { ignoreUnknown: true, ips: [], k8sPodName: "web1" },
    },
    {
      name: "podman --ip --mac-address",
      raw: "IgnoreUnknown=1;K8S_POD_NAME=pc1;MAC=02:00:C6:12:D5:32;IP=198.18.213.50",
      want: { ips: ["198.18.213.50"], mac: "02:00:c6:12:d5:32", k8sPodName: "pc1" },
    },
    {
      name: "containerd CRI, random order",
      raw: "K8S_POD_UID=u-1;K8S_POD_INFRA_CONTAINER_ID=abc123;IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=p1",
      want: { k8sPodNamespace: "ns1", k8sPodName: "p1", k8sPodInfraContainerId: "abc123", k8sPodUid: "u-1" },
    },
    {
      name: "Contiv overrides",
      raw: "io.contiv.tenant=blue;io.contiv.network=net-a;io.contiv.net-group=web",
      want: { tenant: "blue", network: "net-a", group: "web" },
    },
    { name: "IP list with prefixes, duplicates dropped", raw: "IP=198.18.1.5/24,fd00::5/64,198.18.1.5/24", want: { ips: ["198.18.1.5/24", "fd00::5/64"] } },
    { name: "MAC with dashes", raw: "MAC=02-AA-bb-00-00-01", want: { mac: "02:aa:bb:00:00:01" } },
    { name: "IgnoreUnknown=true keeps unknown keys in raw", raw: "IgnoreUnknown=true;FOO=bar=baz", want: { ignoreUnknown: true, raw: { IgnoreUnknown: "true", FOO: "bar=baz" } } },
    { name: "trailing and empty segments", raw: "K8S_POD_NAME=a;;", want: { k8sPodName: "a" } },
    { name: "empty values are absent", raw: "IP=;MAC=;K8S_POD_NAME=", want: { ips: [], k8sPodName: undefined, mac: undefined } },
    { name: "a pod name of 253 characters", raw: `K8S_POD_NAME=${"p".repeat(253)}`, want: { k8sPodName: "p".repeat(253) } },
  ];
  for (const c of good) {
    it(`accepts ${c.name}`, () => {
      const got = parseCniArgs(c.raw);
      for (const [k, v] of Object.entries(c.want)) assert.deepEqual(got[k as keyof CniArgs], v, k);
    });
  }

  const bad: { name: string; raw: string; msg: RegExp }[] = [
    { name: "a segment without '='", raw: "IgnoreUnknown=1;FOO", msg: /"FOO": is not a KEY=VALUE pair/ },
    { name: "an unknown key without IgnoreUnknown", raw: "FOO=1", msg: /FOO: unknown key \(value "1"\)/ },
    { name: "an unknown key with IgnoreUnknown=0", raw: "IgnoreUnknown=0;FOO=1", msg: /FOO: unknown key/ },
    { name: "a bad IgnoreUnknown", raw: "IgnoreUnknown=yes", msg: /IgnoreUnknown: "yes" is not a boolean/ },
    { name: "a bad IP", raw: "IP=198.18.1.300", msg: /IP: "198.18.1.300" is not an IP address/ },
    { name: "a bad prefix", raw: "IP=198.18.1.3/33", msg: /IP: "198.18.1.3\/33"/ },
    { name: "a bad MAC", raw: "MAC=02:00:00:00:00", msg: /MAC: "02:00:00:00:00" is not a MAC address/ },
    { name: "a multicast MAC", raw: "MAC=01:00:5e:00:00:01", msg: /multicast/ },
    { name: "a bad tenant name", raw: "io.contiv.tenant=a_b", msg: /io.contiv.tenant: "a_b" is not a valid tenant name/ },
    { name: "a pod name of 254 characters", raw: `K8S_POD_NAME=${"p".repeat(254)}`, msg: /^Cannot decode CNI_ARGS: K8S_POD_NAME: "p{64}"… \(254 characters\) is longer than 253 characters$/ },
    { name: "a long pod namespace", raw: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${"n".repeat(300)}`, msg: /K8S_POD_NAMESPACE: .* is longer than 253 characters/ },
    { name: "a long unknown key", raw: `${"K".repeat(100)}=1`, msg: /^Cannot decode CNI_ARGS: "K{64}"… \(100 characters\): unknown key \(value "1"\)/ },
  ];
  for (const c of bad) {
    it(`rejects ${c.name} with code 6`, () => {
      assert.throws(
        () => parseCniArgs(c.raw),
        (err: unknown) => {
          assert.ok(err instanceof CniError);
          assert.equal(err.code, 6);
          assert.match(err.message, /^Cannot decode CNI_ARGS: /);
          assert.match(err.message, c.msg);
          return true;
        },
      );
    });
  }

  it("lists every problem in details", () => {
    assert.throws(
      () => parseCniArgs("FOO=1;IP=x;MAC=y"),
      (err: unknown) => {
        assert.ok(err instanceof CniError);
        assert.match(err.message, /\(and 2 more\)$/);
        assert.equal(err.details?.split("; ").length, 3);
        return true;
      },
    );
  });
});
