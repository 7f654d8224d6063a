import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Hono } from "hono";
import { uiHandler } from "./ui.js";

describe("web UI files", () => {
  const dir = mkdtempSync(join(tmpdir(), "netplugin-ui-"));
  writeFileSync(join(dir, "index.html"), "<html>index</html>");
  writeFileSync(join(dir, "app.js"), "console.log(1)");
  writeFileSync(join(dir, "notes.txt"), "not a type we serve");
  mkdirSync(join(dir, "img"));
  writeFileSync(join(dir, "img", "a.svg"), "<svg/>");
  after(() => rmSync(dir, { recursive: true, force: true }));
  const app = new Hono({ strict: false });
  app.get("/ui/*", uiHandler(dir));
  const get = (path: string) => app.request(path);

  test("serves the built files with their content types, no-cache and a CSP that allows only this origin", async () => {
    const js = await get("/ui/app.js");
    assert.equal(js.status, 200);
    assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.match(js.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    assert.equal(js.headers.get("cache-control"), "no-cache");
    assert.equal((await get("/ui/img/a.svg")).headers.get("content-type"), "image/svg+xml");
    assert.equal(await (await get("/ui/")).text(), "<html>index</html>");
  });

  test("a view's path, and /ui, get index.html", async () => {
    assert.equal(await (await get("/ui/topology")).text(), "<html>index</html>");
    assert.equal(await (await get("/ui")).text(), "<html>index</html>");
  });

  test("nothing but the listed files: unknown names, other types and paths out of the folder are 404", async () => {
    for (const p of ["/ui/nosuch.js", "/ui/notes.txt", "/ui/../package.json", "/ui/%2e%2e/package.json", "/ui/img/../../etc/passwd.js"]) {
      assert.equal((await get(p)).status, 404, p);
    }
  });

  test("a netmaster built without the UI says so", async () => {
    const none = new Hono();
    none.get("/ui/*", uiHandler(join(dir, "missing")));
    const r = await none.request("/ui/");
    assert.equal(r.status, 404);
    assert.match(await r.text(), /not built/);
  });
});
