// ~/.netctl/config.json: written as the login answer came, read back as Contiv's netctl read it.

import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import fc from "fast-check";

import { carriesTokens, configPath, resolveToken, tokenOf, writeConfig } from "./config.js";
import { ConfigError, ExitCode } from "./errors.js";
import { tempDir } from "./testing/tempDir.js";

const headerSafe = fc.stringMatching(/^[\x21-\x7e]+$/);
const whitespace = fc.constantFrom("", " ", "\n", "  ", "\t", "\r\n");

describe("netctl config", () => {
  const dir = tempDir();
  after(() => dir.remove());
  let n = 0;
  const freshHome = () => {
    const HOME = join(dir.path, `home${n++}`);
    mkdirSync(HOME);
    return { HOME };
  };

  it("lives in $HOME/.netctl/config.json", () => {
    assert.equal(configPath({ HOME: "/home/alice" }), "/home/alice/.netctl/config.json");
  });

  it("round trip: any login answer is stored byte for byte and its token read back", () => {
    fc.assert(
      fc.property(headerSafe, whitespace, whitespace, (token, before, afterToken) => {
        const env = { HOME: dir.path };
        const body = `${before}{${before}"token":${afterToken}${JSON.stringify(token)}${afterToken}}${before}`;
        const path = writeConfig(env, body);
        assert.equal(readFileSync(path, "utf8"), body);
        assert.deepEqual(resolveToken(env, "https://netmaster:9999"), { value: token, from: path });
      }),
    );
    assert.equal(statSync(join(dir.path, ".netctl")).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir.path, ".netctl", "config.json")).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(dir.path, ".netctl")), ["config.json"]);
  });

  it("no file, no token", () => {
    assert.equal(resolveToken(freshHome(), "http://netmaster:9999"), undefined);
  });

  it("NETMASTER_TOKEN wins whatever the file holds", () => {
    fc.assert(
      fc.property(headerSafe, fc.string(), (token, file) => {
        const env = { HOME: dir.path, NETMASTER_TOKEN: token };
        writeConfig(env, file);
        assert.deepEqual(resolveToken(env, "https://n:1"), { value: token, from: "NETMASTER_TOKEN" });
      }),
    );
  });

  it("any token with an http URL is refused with exit 3", () => {
    fc.assert(
      fc.property(headerSafe, fc.boolean(), fc.webUrl({ validSchemes: ["http"] }), (token, inEnv, url) => {
        const env = inEnv ? { ...freshHome(), NETMASTER_TOKEN: token } : freshHome();
        if (!inEnv) writeConfig(env, JSON.stringify({ token }));
        assert.throws(() => resolveToken(env, url), (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(err.exitCode, ExitCode.invalid);
          assert.match(err.message, /^Error processing (NETMASTER_TOKEN|netctl config .*): a token is only sent over https/);
          return true;
        });
      }),
      { numRuns: 30 },
    );
  });

  it("tokenOf takes only a non-empty header-safe string", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (token) => {
        const ok = /^[\x21-\x7e]+$/.test(token);
        assert.equal("token" in tokenOf(JSON.stringify({ token })), ok);
      }),
    );
    for (const body of ["", "null", "{}", '{"token":null}', '{"token":["t"]}', '"t"']) assert.ok("problem" in tokenOf(body), body);
  });

  it("sends tokens over https anywhere, over http only to loopback", () => {
    const port = fc.integer({ min: 1, max: 65535 });
    fc.assert(fc.property(fc.domain(), port, (host, p) => carriesTokens(`https://${host}:${p}`)));
    fc.assert(fc.property(fc.ipV4(), port, (ip, p) => carriesTokens(`http://${ip}:${p}`) === ip.startsWith("127.")));
    for (const url of ["http://localhost:9999", "http://[::1]:9999", "http://127.1.2.3"]) assert.ok(carriesTokens(url), url);
    for (const url of ["http://netmaster:9999", "http://[fd00::1]:9999", "http://127.0.0.1.example:1", "ftp://127.0.0.1", "not a url"]) assert.ok(!carriesTokens(url), url);
  });
});
