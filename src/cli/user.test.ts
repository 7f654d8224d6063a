import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, it } from "node:test";

import fc from "fast-check";

import { runNetctl } from "./testing/fakeNetmaster.js";
import { makeTestPki } from "./testing/pki.js";
import { startSecureNetmaster, type SecureNetmaster } from "./testing/secureNetmaster.js";

const pki = await makeTestPki();
const USERS = "/api/v1/auth_proxy/local_users/";

describe("netctl user", { skip: pki ? false : "openssl is not installed" }, () => {
  let nm: SecureNetmaster;
  let admin = "";
  const netctl = (argv: string[], stdin = "") => runNetctl(["user", ...argv], nm.env({ NETMASTER_TOKEN: admin }), Readable.from([stdin]));
  beforeEach(async () => {
    nm = await startSecureNetmaster(pki!);
    admin = nm.auth.issueToken("admin");
  });
  afterEach(() => nm.close());

  it("create POSTs the user with the password from stdin", async () => {
    const r = await netctl(["create", "--password-stdin", "--first-name", "Alice", "--last-name", "Liddell", "alice"], "wonderland\n");
    assert.deepEqual(r, { code: 0, stdout: "Created user alice\n", stderr: "" });
    assert.deepEqual(nm.fake.bodyOf(`POST ${USERS}`), {
      username: "alice",
      password: "wonderland",
      first_name: "Alice",
      last_name: "Liddell",
      disable: false,
    });
    assert.equal((await runNetctl(["authorization", "create", "--role", "admin", "alice"], nm.env({ NETMASTER_TOKEN: admin }))).code, 0);
    const login = await runNetctl(["login", "-u", "alice", "--password-stdin"], nm.env(), Readable.from(["wonderland"]));
    assert.equal(login.code, 0, login.stderr);
  });

  it("create --disable makes a user that cannot log in", async () => {
    assert.equal((await netctl(["create", "--password-stdin", "--disable", "bob"], "password")).code, 0);
    assert.equal((nm.fake.bodyOf(`POST ${USERS}`) as { disable: boolean }).disable, true);
    assert.equal((await runNetctl(["authorization", "create", "--role", "admin", "bob"], nm.env({ NETMASTER_TOKEN: admin }))).code, 0);
    const login = await runNetctl(["login", "-u", "bob", "--password-stdin"], nm.env(), Readable.from(["password"]));
    assert.deepEqual(login, { code: 3, stdout: "", stderr: "Error: Login failed: Bad username or password.\n" });
  });

  it("ls: table, -q, -j", async () => {
    nm.auth.addUser("alice", "pw");
    nm.auth.users.get("alice")!.first_name = "Alice";
    nm.auth.users.get("alice")!.disable = true;
    assert.equal(
      (await netctl(["ls"])).stdout,
      "Username  First name  Last name  Disabled\n" +
        "--------  ----------  ---------  --------\n" +
        "admin                            false\n" +
        "alice     Alice                  true\n",
    );
    assert.equal((await netctl(["list", "-q"])).stdout, "admin\nalice\n");
    const json = JSON.parse((await netctl(["ls", "-j"])).stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(json[1], { username: "alice", first_name: "Alice", last_name: "", disable: true });
  });

  it("inspect prints the user, never a password", async () => {
    nm.auth.addUser("alice", "pw");
    const r = await netctl(["inspect", "alice"]);
    assert.equal(r.stdout, JSON.stringify({ username: "alice", first_name: "", last_name: "", disable: false }, null, 2) + "\n");
  });

  it("update PATCHes only what was given (an empty name clears it)", async () => {
    nm.auth.addUser("alice", "pw");
    const cases: Array<[argv: string[], stdin: string, body: Record<string, unknown>]> = [
      [["--first-name", "Al"], "", { first_name: "Al" }],
      [["--last-name", ""], "", { last_name: "" }],
      [["--disable"], "", { disable: true }],
      [["--enable", "--first-name", "A"], "", { first_name: "A", disable: false }],
      [["--password-stdin"], "new-password\n", { password: "new-password" }],
    ];
    for (const [argv, stdin, body] of cases) {
      const r = await netctl(["update", ...argv, "alice"], stdin);
      assert.deepEqual(r, { code: 0, stdout: "Updated user alice\n", stderr: "" }, argv.join(" "));
      assert.deepEqual(nm.fake.requests.at(-1), { method: "PATCH", path: `${USERS}alice/`, body, token: admin });
    }
    assert.equal(nm.auth.users.get("alice")?.password, "new-password");
  });

  it("a user may change its own password, not another's", async () => {
    nm.auth.addUser("alice", "password", "ops", "blue");
    nm.auth.addUser("bob", "password", "ops", "blue");
    const env = nm.env({ NETMASTER_TOKEN: nm.auth.issueToken("alice") });
    const r = await runNetctl(["user", "update", "--password-stdin", "alice"], env, Readable.from(["my-new-password"]));
    assert.deepEqual(r, { code: 0, stdout: "Updated user alice\n", stderr: "" });
    assert.equal(nm.auth.users.get("alice")?.password, "my-new-password");
    const other = await runNetctl(["user", "update", "--password-stdin", "bob"], env, Readable.from(["bobs-new-password"]));
    assert.deepEqual(other, { code: 3, stdout: "", stderr: "Error: User alice may not PATCH another user\n" });
  });

  it("the server's rules for passwords and names come back as its message, exit 3", async () => {
    const short = await netctl(["create", "--password-stdin", "alice"], "short");
    assert.deepEqual(short, { code: 3, stdout: "", stderr: "Error: Invalid user: password: must be at least 8 characters\n" });
    nm.auth.addUser("alice", "password");
    const twice = await netctl(["create", "--password-stdin", "alice"], "password");
    assert.deepEqual(twice, { code: 3, stdout: "", stderr: "Error: User alice already exists\n" });
  });

  it("rm deletes; a missing user is the server's 404 message, exit 3", async () => {
    nm.auth.addUser("alice", "pw");
    assert.deepEqual(await netctl(["rm", "alice"]), { code: 0, stdout: "Deleted user alice\n", stderr: "" });
    assert.deepEqual(await netctl(["delete", "alice"]), { code: 3, stdout: "", stderr: "Error: User alice not found\n" });
    assert.deepEqual(await netctl(["get", "alice"]), { code: 3, stdout: "", stderr: "Error: User alice not found\n" });
  });

  it("names are path-escaped", async () => {
    nm.auth.addUser("a/b c", "pw");
    assert.equal((await netctl(["inspect", "a/b c"])).code, 0);
    assert.equal(nm.fake.requests.at(-1)?.path, `${USERS}a%2Fb%20c/`);
  });

  it("an ops user is refused with the server's message", async () => {
    nm.auth.addUser("olivia", "pw", "ops", "blue");
    const r = await runNetctl(["user", "ls"], nm.env({ NETMASTER_TOKEN: nm.auth.issueToken("olivia") }));
    assert.deepEqual(r, { code: 3, stdout: "", stderr: "Error: User olivia may not GET this path: it needs the admin role\n" });
  });

  it("bad usage exits 1 and sends nothing", async () => {
    const cases: Array<[argv: string[], stdin: string, message: RegExp]> = [
      [["create", "--password-stdin"], "pw", /^Error: User name required\n\nUsage: netctl user create /],
      [["create", "--password-stdin", ""], "pw", /^Error: User name required\n/],
      [["create", "--password-stdin", "a", "b"], "pw", /^Error: User name required\n/],
      [["create", "alice"], "pw", /^Error: Cannot create user "alice": stdin is not a terminal to ask for the password: give --password-stdin\n$/],
      [["create", "--password-stdin", "alice"], "", /^Error: Cannot create user "alice": no password on stdin\n$/],
      [["update", "alice"], "", /^Error: Cannot update user "alice": nothing to change: give --password-stdin, --first-name, --last-name, --disable or --enable\n/],
      [["update", "--disable", "--enable", "alice"], "", /^Error: Cannot update user "alice": --disable and --enable exclude each other\n$/],
      [["update", "--password-stdin", "alice"], "", /^Error: Cannot update user "alice": no password on stdin\n$/],
      [["rm"], "", /^Error: User name required\n/],
      [["inspect"], "", /^Error: User name required\n/],
      [["ls", "x"], "", /^Error: More arguments than required\n/],
      [["create", "--bogus", "alice"], "", /^Error: Unknown option '--bogus'/],
      [["create", "--password", "secret-pw", "alice"], "", /^Error: Unknown option '--password'/],
    ];
    for (const [argv, stdin, message] of cases) {
      const r = await netctl(argv, stdin);
      assert.equal(r.code, 1, argv.join(" "));
      assert.match(r.stderr, message, argv.join(" "));
    }
    assert.deepEqual(nm.fake.calls(), []);
  });

  it("property: update sends exactly the fields given, and refuses nothing-to-do", async () => {
    nm.auth.addUser("u", "pw");
    const flags = fc.record(
      { first: fc.option(fc.string(), { nil: undefined }), last: fc.option(fc.string(), { nil: undefined }), state: fc.constantFrom("", "--disable", "--enable") },
    );
    await fc.assert(
      fc.asyncProperty(flags, async ({ first, last, state }) => {
        const argv = [
          ...(first !== undefined ? [`--first-name=${first}`] : []),
          ...(last !== undefined ? [`--last-name=${last}`] : []),
          ...(state ? [state] : []),
        ];
        const before = nm.fake.requests.length;
        const r = await netctl(["update", ...argv, "u"]);
        if (argv.length === 0) {
          assert.equal(r.code, 1);
          assert.equal(nm.fake.requests.length, before);
          return;
        }
        assert.equal(r.code, 0, r.stderr);
        const want: Record<string, unknown> = {};
        if (first !== undefined) want["first_name"] = first;
        if (last !== undefined) want["last_name"] = last;
        if (state) want["disable"] = state === "--disable";
        assert.deepEqual(nm.fake.requests.at(-1)?.body, want);
      }),
      { numRuns: 40 },
    );
  });
});
