import assert from "node:assert/strict";
import { isIPv4, isIPv6 } from "node:net";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ValidationError } from "../lib/errors.js";
import { kinds, parseObject } from "./kinds.js";
import { sdnControllerProblem } from "./sdn-controller.js";

const base = { name: "global", networkInfraType: "default", fwdMode: "bridge", arpMode: "proxy", vlans: "1-4094", vxlans: "1-10000", pvtSubnet: "172.19.0.0/16" };

/** The global object with `sdnController`, parsed: the stored value, or the ValidationError's issues. */
function parseGlobal(sdnController: unknown): { value: string } | { issues: { path: string; message: string }[] } {
  try {
    return { value: (parseObject(kinds.global, "global", { ...base, sdnController }) as { sdnController: string }).sdnController };
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    return { issues: err.issues };
  }
}

/** An oracle written apart from the checker: Node's own address parser (no zones: OVS takes none). */
function oracleAccepts(target: string): boolean {
  if (target === "") return true;
  const m = /^(tcp|ssl):(.*):([0-9]{1,5})$/.exec(target);
  if (m === null) return false;
  const [, , host, port] = m as unknown as [string, string, string, string];
  const portOk = Number(port) >= 1 && Number(port) <= 65535;
  if (host.startsWith("[") && host.endsWith("]")) return portOk && isIPv6(host.slice(1, -1)) && !host.includes("%");
  return portOk && isIPv4(host);
}

const proto = fc.constantFrom("tcp", "ssl");
const port = fc.integer({ min: 1, max: 65535 });

describe("sdnController", () => {
  it("every tcp|ssl:IPv4:PORT and tcp|ssl:[IPv6]:PORT with a port 1-65535 is stored as given", () => {
    fc.assert(
      fc.property(proto, fc.oneof(fc.ipV4(), fc.ipV6().map((a) => `[${a}]`)), port, (p, host, n) => {
        const target = `${p}:${host}:${n}`;
        assert.deepEqual(parseGlobal(target), { value: target });
      }),
    );
  });

  it("a port outside 1-65535 is refused, naming the port", () => {
    fc.assert(
      fc.property(proto, fc.ipV4(), fc.oneof(fc.constant(0), fc.integer({ min: 65536, max: 99999 })), (p, host, n) => {
        const target = `${p}:${host}:${n}`;
        assert.deepEqual(parseGlobal(target), { issues: [{ path: "sdnController", message: `sdnController "${target}" is invalid: port "${n}" is not 1-65535` }] });
      }),
    );
  });

  it("an IPv6 address without brackets is refused", () => {
    fc.assert(
      fc.property(proto, fc.ipV6().filter((a) => a.includes(":")), port, (p, host, n) => {
        const got = parseGlobal(`${p}:${host}:${n}`);
        assert.ok("issues" in got, `accepted ${p}:${host}:${n}`);
      }),
    );
  });

  it("any text is accepted exactly when Node's address parser agrees, and a refusal names the field and the text", () => {
    const piece = fc.oneof(
      fc.constantFrom("tcp", "ssl", "udp", "unix", "TCP", ":", "[", "]", "::", "%eth0", " ", ".", "0", "65535", "65536", "1"),
      fc.ipV4(),
      fc.ipV6(),
      fc.string({ maxLength: 4 }),
      fc.integer({ min: 0, max: 70000 }).map(String),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 6 }).map((parts) => parts.join("")), (target) => {
        const got = parseGlobal(target);
        assert.equal("value" in got, oracleAccepts(target), `${JSON.stringify(target)}: ${JSON.stringify(got)}`);
        if ("value" in got) assert.equal(got.value, target);
        else if (Buffer.byteLength(target) <= 256) assert.deepEqual(got.issues, [{ path: "sdnController", message: `sdnController "${target}" is invalid: ${sdnControllerProblem(target)}` }]);
      }),
      { numRuns: 2000 },
    );
  });

  it("the accepted shapes are likewise accepted with a valid prefix and refused with a mangled one", () => {
    fc.assert(
      fc.property(proto, fc.ipV4(), port, fc.constantFrom("", "x", " ", "tcp:"), (p, host, n, junk) => {
        const target = `${junk}${p}:${host}:${n}`;
        assert.equal(sdnControllerProblem(target) === undefined, junk === "");
      }),
    );
  });
});
