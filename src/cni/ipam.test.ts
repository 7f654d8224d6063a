// The ipam section's validation, by property: what a plugin name may be, what the config parser keeps
// of the section, and where findPlugin may look.

import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";

import { findPlugin } from "./delegate.js";
import { CniError } from "./errors.js";
import { ipamSourceOf, ipamTypeProblem, MAX_IPAM_TYPE, readIpamSection } from "./ipam.js";
import { parseNetConf } from "./netconf.js";

const base = { cniVersion: "1.0.0", name: "blue", type: "netplugin", network: "blue-net" };

const FIRST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".split("");
const REST = [...FIRST, ".", "_", "+", "-"];
/** Names the rule accepts: a letter or digit, then up to MAX_IPAM_TYPE - 1 of the allowed characters. */
const goodType = fc
  .tuple(fc.constantFrom(...FIRST), fc.array(fc.constantFrom(...REST), { maxLength: MAX_IPAM_TYPE - 1 }))
  .map(([h, t]) => h + t.join(""))
  .filter((t) => t !== "netplugin");

describe("ipam.type", () => {
  it("accepts Debian's IPAM plugins and other real names", () => {
    for (const t of ["host-local", "static", "dhcp", "whereabouts", "calico-ipam", "azure-vnet-ipam", "aws.ipam_v2"]) {
      assert.equal(ipamTypeProblem(t), undefined, t);
    }
  });

  it("accepts every name of the rule", () => {
    fc.assert(
      fc.property(goodType, (t) => {
        assert.equal(ipamTypeProblem(t), undefined);
        assert.deepEqual(readIpamSection({ ipam: { type: t } }), { ok: true, ipam: { type: t } });
        assert.equal(ipamSourceOf({ type: t }), `cni:${t}`);
      }),
    );
  });

  it("refuses every string with a slash, a NUL, whitespace or a leading dot, and . and ..", () => {
    const bad = fc.oneof(
      fc.tuple(fc.string(), fc.constantFrom("/", "\u0000", " ", "\n", "\\", "$", "`", ";", "*"), fc.string()).map(([a, b, c]) => a + b + c),
      fc.string().map((s) => "." + s),
      fc.string().map((s) => "-" + s),
      fc.constantFrom("", ".", "..", "netplugin", "x".repeat(MAX_IPAM_TYPE + 1)),
    );
    fc.assert(
      fc.property(bad, (t) => {
        assert.notEqual(ipamTypeProblem(t), undefined, JSON.stringify(t));
        const read = readIpamSection({ ipam: { type: t } });
        assert.equal(read.ok, false);
      }),
    );
  });

  it("refuses every value that is not a string", () => {
    fc.assert(fc.property(fc.anything().filter((v) => typeof v !== "string"), (t) => assert.notEqual(ipamTypeProblem(t), undefined)));
  });
});

describe("parseNetConf with an ipam section", () => {
  it("keeps the type and leaves the rest of the section to the IPAM plugin", () => {
    const extra = fc.dictionary(fc.string().filter((k) => k !== "type" && k !== "__proto__"), fc.jsonValue());
    fc.assert(
      fc.property(goodType, extra, (type, rest) => {
        const conf = parseNetConf({ ...base, ipam: { ...rest, type } });
        assert.deepEqual(conf.ipam, { type });
        assert.ok(!conf.ignoredFields.includes("ipam"));
      }),
    );
  });

  it("answers any ipam value with a config or a CniError 7 naming ipam, never anything else", () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.record({ type: fc.anything() })), (ipam) => {
        let conf;
        try {
          conf = parseNetConf({ ...base, ipam });
        } catch (err) {
          assert.ok(err instanceof CniError, String(err));
          assert.equal(err.code, 7);
          assert.match(err.message, /^Cannot use network config "blue": ipam(\.type)?: /);
          return;
        }
        const t = (ipam as { type?: unknown } | null)?.type;
        if (ipam === null || ipam === undefined) assert.equal(conf.ipam, undefined);
        else assert.deepEqual(conf.ipam, { type: t });
        if (conf.ipam) assert.equal(ipamTypeProblem(conf.ipam.type), undefined);
      }),
    );
  });
});

describe("findPlugin", () => {
  it("looks only at <CNI_PATH entry>/<type>, in order, as libcni does", () => {
    const dir = fc.array(fc.string({ minLength: 1 }).filter((d) => !d.includes(":")), { maxLength: 5 });
    fc.assert(
      fc.property(dir, goodType, fc.nat(), (dirs, type, pick) => {
        const asked: string[] = [];
        const target = dirs.length > 0 ? path.join(dirs[pick % dirs.length]!, type) : "";
        const found = findPlugin(type, dirs.join(":"), (f) => (asked.push(f), f === target));
        for (const f of asked) {
          assert.equal(path.basename(f), type, "never outside the directory: the name has no slash");
        }
        assert.deepEqual(asked, dirs.slice(0, asked.length).map((d) => path.join(d, type)));
        assert.equal(found, dirs.length > 0 ? target : undefined);
      }),
    );
  });

  it("finds the real host-local in /usr/lib/cni after a directory without it", () => {
    assert.equal(findPlugin("host-local", "/nonexistent:/usr/lib/cni"), "/usr/lib/cni/host-local");
    assert.equal(findPlugin("no-such-ipam", "/usr/lib/cni"), undefined);
    assert.equal(findPlugin("cni", "/usr/lib"), undefined, "a directory is not a plugin");
  });
});
